"""README and docs: the quick start works, and they speak of today's code."""
import ast
import glob
import os
import re

import numpy as np
from PIL import Image

from tests.conftest import ROOT

README = os.path.join(ROOT, 'README.md')


def _read(path):
  with open(path) as f:
    return f.read()


def _quick_start():
  text = _read(README)
  sections = re.split(r'^## ', text, flags=re.M)
  assert sections[1].startswith('Quick start'), sections[1][:40]
  return sections[1]


def test_readme_opens_with_a_quick_start_on_shipped_files():
  quick = _quick_start()
  assert 'vaegan-inpaint examples/photo.jpg examples/photo_mask.png' in quick
  photo = Image.open(os.path.join(ROOT, 'examples', 'photo.jpg'))
  mask = np.asarray(Image.open(os.path.join(ROOT, 'examples',
                                            'photo_mask.png')))
  assert mask.shape == (photo.height, photo.width)
  assert 0 < (mask > 127).mean() < 0.1  # white = hole, a small one
  code = re.search(r'```python\n(.*?)```', quick, re.S).group(1)
  tree = ast.parse(code)
  imported = {a.asname or a.name.split('.')[0] for n in ast.walk(tree)
              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
  used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
          and isinstance(n.ctx, ast.Load)}
  assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
  assert used <= imported | assigned | {'print'}, used - imported - assigned
  assert "load_params('pretrained/vaegan64')" in code
  assert re.search(r'first call compiles|compiles the model', quick)


def _prose_files():
  return [README] + sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))


def test_docs_and_comments_tell_no_history():
  # Issue numbers of this project; other projects' trackers may be cited.
  pattern = re.compile(r'(?<![\w/])#\d+\b')
  cited = re.compile(r'[A-Za-z-]+ issue #\d+')
  files = _prose_files() + sorted(glob.glob(
      os.path.join(ROOT, 'vaegan_jax', '**', '*.py'), recursive=True))
  found = [f'{os.path.relpath(f, ROOT)}: {line.strip()[:80]}'
           for f in files for line in _read(f).splitlines()
           if pattern.search(cited.sub('', line))]
  assert not found, found


def test_quality_has_one_current_section_with_evals_row_names():
  text = _read(os.path.join(ROOT, 'docs', 'quality.md'))
  assert len(re.findall(r'^#+ .*shipped model', text, re.M | re.I)) == 1
  for old in ('vaegan_mean8', 'vaegan_fidelity', '| vaegan |'):
    assert old not in text, old
  # eval.py's name for the default fill names its table rows.
  assert re.search(r'^\| (\*\*)?default\b', text, re.M)

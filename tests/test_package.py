"""The wheel: dependencies, shipped model, configs and console scripts.

Builds the wheel, installs it into a fresh environment that sees this one's
packages only as already-installed dependencies, and fills an image with
the shipped model through `vaegan-inpaint`, run from another directory.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
from PIL import Image
import pytest

from tests.conftest import ROOT


def _run(cmd, **kwargs):
  proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                        **kwargs)
  assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-3000:])
  return proc


@pytest.mark.heavy
def test_wheel_installs_and_fills_from_another_directory(tmp_path):
  # Built from a copy: a build writes build/ and *.egg-info beside the source.
  src = tmp_path / 'src'
  shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
      '.git', '.venv', '__pycache__', 'build', 'dist', '*.egg-info',
      'workdirs', '.hypothesis', 'eval'))
  _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '-q', '-w', str(tmp_path / 'dist'), str(src)])
  (wheel,) = (tmp_path / 'dist').glob('vaegan_jax-*.whl')
  with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    meta = z.read(next(n for n in names
                          if n.endswith('.dist-info/METADATA'))).decode()
    scripts = z.read(next(n for n in names
                          if n.endswith('.dist-info/entry_points.txt'))).decode()
  for path in ('vaegan_jax/pretrained/vaegan64/config.json',
               'vaegan_jax/configs/default.py', 'vaegan_jax/configs/tpu_v3.py',
               'vaegan_jax/evaluation/weights/lpips_alex.npz',
               'vaegan_jax/data/photos/MANIFEST.json'):
    assert path in names, path
  assert any(n.startswith('vaegan_jax/pretrained/vaegan64/checkpoints/')
             for n in names)
  assert not any('vaegan64_r1' in n or n.startswith('tests/') for n in names)
  for dep in ('jax', 'flax', 'optax', 'orbax-checkpoint', 'tensorflow-cpu',
              'pillow', 'pypatchmatch'):
    assert f'Requires-Dist: {dep}' in meta, dep
  for script in ('vaegan-inpaint', 'vaegan-train', 'vaegan-eval',
                 'vaegan-export'):
    assert script in scripts

  # A fresh environment; this one's site-packages stand in for an index, so
  # pip must find every declared dependency already installed at a version
  # the declared range allows (--no-index: nothing is downloaded).
  venv = tmp_path / 'venv'
  _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)])
  py = venv / 'bin' / 'python'
  site = _run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()'
               "['purelib'])"]).stdout.strip()
  os.makedirs(site, exist_ok=True)
  with open(os.path.join(site, 'deps.pth'), 'w') as f:
    f.write(sysconfig.get_paths()['purelib'] + '\n')
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  _run([sys.executable, '-m', 'pip', '--python', str(py), 'install', '-q',
        '--no-index', str(wheel)], env=env)

  work = tmp_path / 'elsewhere'
  work.mkdir()
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (48, 56, 3), dtype=np.uint8)
  mask = np.zeros((48, 56), np.uint8)
  mask[16:32, 20:40] = 255
  Image.fromarray(image).save(work / 'photo.png')
  Image.fromarray(mask).save(work / 'mask.png')
  proc = _run([str(venv / 'bin' / 'vaegan-inpaint'), 'photo.png', 'mask.png',
               '-o', 'filled.png'], cwd=work, env=env)
  assert 'wrote filled.png' in proc.stdout
  where = _run([str(py), '-c', 'import vaegan_jax; print(vaegan_jax.__file__)'],
               cwd=work, env=env).stdout
  assert where.startswith(str(venv)), where  # the installed copy, not ROOT's
  out = np.asarray(Image.open(work / 'filled.png'))
  hole = mask > 0
  np.testing.assert_array_equal(out[~hole], image[~hole])
  assert np.abs(out[hole].astype(int) - image[hole]).mean() > 1

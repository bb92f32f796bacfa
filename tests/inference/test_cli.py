"""vaegan-inpaint: inputs checked first, one-line errors, one hole rule."""
import os
import subprocess
import sys
import warnings

import numpy as np
from PIL import Image
import pytest

from tests.conftest import ROOT
from vaegan_jax.inference import api
from vaegan_jax.inference import cli
from vaegan_jax.inference import export
from vaegan_jax.inference import inputs


def _files(tmp_path, *, mask_values=(0, 1), size=(40, 48)):
  """A photo-like image and a mask PNG with a hole given as `mask_values`."""
  h, w = size
  rng = np.random.default_rng(0)
  image = np.clip(rng.normal(128, 40, (h, w, 3)), 0, 255).astype(np.uint8)
  mask = np.full((h, w), mask_values[0], np.uint8)
  mask[12:24, 16:30] = mask_values[1]
  Image.fromarray(image).save(tmp_path / 'in.png')
  Image.fromarray(mask).save(tmp_path / 'mask.png')
  return image, mask > mask_values[0]


def _main(args, capsys):
  """cli.main(args) -> (exit status, stdout, stderr)."""
  try:
    status = cli.main([str(a) for a in args])
  except SystemExit as e:
    status = e.code
  out = capsys.readouterr()
  return status, out.out, out.err


@pytest.fixture
def no_model(monkeypatch):
  """Fails the test if the CLI loads a model."""
  def boom(*args, **kwargs):
    raise AssertionError('the model was loaded before the inputs were checked')
  monkeypatch.setattr(api, 'load_params', boom)


def test_a_0_1_label_mask_fills_the_hole(tmp_path, capsys):
  image, hole = _files(tmp_path, mask_values=(0, 1))
  status, out, _ = _main([tmp_path / 'in.png', tmp_path / 'mask.png', '-o',
                          tmp_path / 'out.png'], capsys)
  assert status == 0 and 'wrote' in out
  got = np.asarray(Image.open(tmp_path / 'out.png'))
  np.testing.assert_array_equal(got[~hole], image[~hole])
  assert np.abs(got[hole].astype(int) - image[hole]).mean() > 5


def test_one_hole_rule_for_arrays_and_files():
  labels = np.array([[0, 1], [0, 0]], np.uint8)
  white = labels * 255
  soft = np.array([[0.2, 0.7], [0.5, 0.0]])
  assert inputs.holes(labels).tolist() == [[False, True], [False, False]]
  assert inputs.holes(white).tolist() == [[False, True], [False, False]]
  assert inputs.holes(soft).tolist() == [[False, True], [False, False]]
  # Anti-aliased 8-bit edges are cut at half of 255, not at 0.
  assert inputs.holes(np.array([0, 100, 128, 255], np.uint8)).tolist() == [
      False, False, True, True]


@pytest.mark.parametrize('fraction,match', [(0.0, 'no hole pixels'),
                                            (0.75, 'inverted')])
def test_empty_or_mostly_hole_masks_warn(fraction, match):
  hole = np.zeros((1, 8, 8), bool)
  hole.reshape(-1)[:int(fraction * 64)] = True
  with pytest.warns(UserWarning, match=match):
    inputs.warn_unusual(hole)
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    hole[:] = False
    hole[0, :4, :4] = True  # 25%: fine
    inputs.warn_unusual(hole)


def test_an_empty_mask_warns_on_the_command_line(tmp_path, capsys):
  image, _ = _files(tmp_path, mask_values=(0, 0))
  status, _, err = _main([tmp_path / 'in.png', tmp_path / 'mask.png', '-o',
                          tmp_path / 'out.png'], capsys)
  assert status == 0 and 'warning: mask: no hole pixels' in err
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'out.png')),
                                image)


@pytest.mark.parametrize('case,match', [
    ('missing', 'image file not found'),
    ('not_an_image', 'cannot read image'),
    ('size', 'must be the same size'),
    ('no_dir', 'output directory'),
])
def test_bad_inputs_fail_in_one_line_before_the_model_loads(
    tmp_path, capsys, no_model, case, match):
  _files(tmp_path)
  image, mask, out = tmp_path / 'in.png', tmp_path / 'mask.png', tmp_path / 'o.png'
  if case == 'missing':
    image = tmp_path / 'nothere.jpg'
  elif case == 'not_an_image':
    image = tmp_path / 'notes.txt'
    image.write_text('not a photo')
  elif case == 'size':
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(mask)
  else:
    out = tmp_path / 'missing_dir' / 'o.png'
  status, stdout, err = _main([image, mask, '-o', out], capsys)
  assert status == 2 and not stdout
  assert err.count('\n') == 1 and match in err, err
  assert err.startswith('vaegan-inpaint: error: ')


def test_seed_needs_samples_and_every_option_has_help(capsys):
  status, _, err = _main(['a.png', 'b.png', '-o', 'c.png', '--seed', '3'],
                         capsys)
  assert status == 2 and '--num_samples' in err
  text = cli.build_parser().format_help()
  assert 'vaegan-inpaint photo.jpg mask.png -o filled.png' in text
  assert 'tiled side by side' in text and 'needs --num_samples' in text
  for parser in (cli.build_parser(), export.build_parser()):
    for action in parser._actions:  # pylint: disable=protected-access
      assert action.help, action.dest


def test_entry_points_keep_their_examples_and_flags_in_help():
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  for script, example in (('eval.py', '  python eval.py --workdir '
                                      'workdirs/default --baselines all\n'),
                          ('train.py', '  python train.py --config '
                                       'configs/tpu_v3.py ')):
    proc = subprocess.run([sys.executable, script, '--help'], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=120)
    assert example in proc.stdout and '--workdir' in proc.stdout
    assert 'I0000' not in proc.stderr and 'oneDNN' not in proc.stderr


def test_shipped_model_by_name_from_anywhere(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # no ./pretrained here
  shipped = os.path.join(api.PRETRAINED_DIR, api.DEFAULT_MODEL)
  for name in ('vaegan64', 'pretrained/vaegan64'):
    assert api.shipped_model(name) == shipped
  assert api.shipped_model('elsewhere/vaegan64') is None
  assert api.shipped_model(str(tmp_path)) is None
  assert api.shipped_model(shipped) == os.path.realpath(shipped)

"""End to end: train.py in a subprocess, load_params, inpaint, export, the
CLI and eval.py."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, xla_flags

ENV = dict(os.environ, XLA_FLAGS=xla_flags(2),
           JAX_PLATFORMS='cpu', TF_CPP_MIN_LOG_LEVEL='2')


def _run(*args):
  proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  return proc.stdout


@pytest.mark.heavy
def test_train_inpaint_export_cli_eval(tmp_path):
  workdir = str(tmp_path / 'run')
  # (Restarts resume: training/test_faults.py after SIGTERM and SIGKILL,
  # run/test_workdir_lock.py with a larger num_steps.)
  out = _run('train.py', '--config', 'configs/test.py', '--workdir', workdir)
  assert 'step 2/4' in out and 'step 4/4' in out, out
  assert 'steps/s' in out and 'ETA' in out and 'Resuming' not in out
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  assert glob.glob(os.path.join(workdir, 'events.out.tfevents.*'))
  assert os.path.isfile(os.path.join(workdir, 'samples', 'latest.png'))

  from vaegan_jax.inference import cli
  from vaegan_jax import inpaint
  from vaegan_jax import load_params
  from vaegan_jax.run import image_io
  params = load_params(workdir)
  assert params.step == 4
  image = np.random.RandomState(0).randint(0, 256, (20, 28, 3), np.uint8)
  mask = np.zeros((20, 28), bool)
  mask[5:15, 8:20] = True
  filled = inpaint(params, image, mask)
  np.testing.assert_array_equal(filled[~mask], image[~mask])

  # The exported inference-only directory loads and gives the same fills.
  from vaegan_jax.inference import export
  assert export.export(workdir, str(tmp_path / 'exported')) == 4
  exported = load_params(str(tmp_path / 'exported'))
  np.testing.assert_array_equal(inpaint(exported, image, mask), filled)
  assert (export.directory_size(str(tmp_path / 'exported'))
          < export.directory_size(os.path.join(workdir, 'checkpoints')))

  # The file CLI.
  image_io.save_png(str(tmp_path / 'in.png'), image)
  image_io.save_png(str(tmp_path / 'mask.png'),
                  np.repeat(mask[..., None] * np.uint8(255), 3, axis=-1))
  cli.main(['--workdir', workdir, '--image', str(tmp_path / 'in.png'),
                  '--mask', str(tmp_path / 'mask.png'),
                  '--output', str(tmp_path / 'out.png')])
  np.testing.assert_array_equal(image_io.read_image(str(tmp_path / 'out.png')),
                                filled)

  # Any folder of photos instead of the held-out set (a few, to keep the
  # test short; tests/data/test_eval_sets.py covers the held-out set).
  photos = tmp_path / 'photos'
  photos.mkdir()
  rng = np.random.default_rng(0)
  for i, shape in enumerate([(40, 30, 3), (20, 50, 3)]):
    image_io.save_png(str(photos / f'{i}.png'),
                      rng.integers(0, 256, shape, dtype=np.uint8))
  # (FID, KID and P-IDS / U-IDS: evaluation/test_network_metrics.py.)
  out = _run('eval.py', '--workdir', workdir, '--num_masks_per_image=2',
             '--baselines=biharmonic,mean,shiftmap,oracle', '--num_samples=2',
             '--modes=16,photo', '--photo_max_side=48',
             '--folder', str(photos))
  assert 'PSNR' in out and 'SWD' in out and 'diversity' in out
  assert 'target default SWD < every classical row' in out
  for tag in ('16px', 'photo'):
    with open(os.path.join(workdir, 'eval', f'eval_{tag}_folder.json')) as f:
      result = json.load(f)
    assert result['step'] == 4 and result['mode'] == tag
    assert set(result['results']) == {'default', 'fidelity', 'biharmonic',
                                      'mean', 'shiftmap', 'oracle'}
    for row in result['results'].values():
      s = row['all']
      # LPIPS' AlexNet sees nothing of images this small (its value: NaN);
      # test_network_metrics scores it on larger ones.
      assert np.isfinite(s['psnr']) and 'lpips' in s
      assert set(s) >= {'swd_x1', 'ssim', 'detail_ratio', 'hole_l1'}
      if tag == '16px':
        assert s['n'] == 4
    # Each row scores its own method's fills (noise photos: no ordering).
    rows = result['results']
    assert len({round(r['all']['psnr'], 6) for r in rows.values()}) == len(
        rows)
    assert set(result['seconds_per_image']) == set(rows)
    assert all(s > 0 for s in result['seconds_per_image'].values())
    assert {t['target'] for t in result['targets']} >= {
        'default PSNR >= biharmonic - 2.5', 'fidelity PSNR >= biharmonic + 0.5'}
    assert os.path.isfile(os.path.join(workdir, 'eval',
                                       f'eval_{tag}_folder.png'))
  assert 'diversity' in json.load(open(os.path.join(workdir, 'eval',
                                                    'eval_16px_folder.json')))

  # The folder's images, each under its own name.
  with open(os.path.join(workdir, 'eval', 'eval_16px_folder.json')) as f:
    names = json.load(f)['per_image']['default']
  assert sorted(set(n.split('/')[0] for n in names)) == ['0.png', '1.png']

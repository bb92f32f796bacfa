"""perceptual + eval.py: FID, KID, LPIPS, P-IDS/U-IDS from weight files.

The weights are drawn at random in the reference networks' layout (their
exactness is tests/test_inception.py's and tests/test_lpips.py's), saved
as the user's files would be, and given to eval.py.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, xla_flags
from tests.fixtures import random_weights
from vaegan_jax import image_io
from vaegan_jax import inception
from vaegan_jax import lpips
from vaegan_jax import perceptual
from vaegan_jax import torch_weights


@pytest.fixture(scope='module')
def weight_files(tmp_path_factory):
  d = tmp_path_factory.mktemp('weights')
  fid, lp = str(d / 'fid.npz'), str(d / 'lpips.npz')
  torch_weights.save_npz(fid, random_weights.state(0,
                                                   inception.param_shapes()))
  torch_weights.save_npz(lp, random_weights.state(0, lpips.param_shapes('vgg')))
  return fid, lp


def test_score_per_bucket(weight_files):
  scorers = perceptual.load(*weight_files)
  assert scorers.lpips_net == 'vgg'
  truth = random_weights.images(0, 6, 32, 32) / 255.0
  rng = np.random.default_rng(0)
  noisy = np.clip(truth + rng.normal(0, 0.3, truth.shape), 0, 1)
  groups = {'all': np.arange(6), 'few': np.array([0])}
  out = perceptual.score(scorers, {'same': truth, 'noisy': noisy}, truth,
                         groups)
  same, noise = out['same']['all'], out['noisy']['all']
  assert same['fid'] == pytest.approx(0.0, abs=1e-3)
  assert same['lpips'] == pytest.approx(0.0, abs=1e-6)
  assert noise['fid'] > 1.0 and noise['lpips'] > 0.01
  assert noise['kid'] > same['kid']
  # One image: no covariance, no SVM; LPIPS is still its own distance.
  assert np.isnan(out['noisy']['few']['fid'])
  assert out['noisy']['few']['lpips'] > 0.01


def test_bad_weight_files_are_refused_before_work(tmp_path, weight_files):
  _, lp = weight_files
  with pytest.raises(ValueError, match='not the expected network'):
    perceptual.load(fid_weights=lp)
  with pytest.raises(FileNotFoundError):
    perceptual.load(lpips_weights=str(tmp_path / 'none.pth'))


@pytest.mark.heavy
def test_eval_prints_the_published_metrics(tmp_path, weight_files):
  photos = tmp_path / 'photos'
  photos.mkdir()
  for i, img in enumerate(random_weights.images(1, 2, 40, 52)):
    image_io.save_png(str(photos / f'{i}.png'), img)
  fid, lp = weight_files
  env = dict(os.environ, XLA_FLAGS=xla_flags(1), JAX_PLATFORMS='cpu')
  proc = subprocess.run(
      [sys.executable, 'eval.py', '--workdir', 'pretrained/vaegan64',
       '--folder', str(photos), '--modes=32', '--num_masks_per_image=2',
       '--num_samples=0', '--fid_weights', fid, '--lpips_weights', lp,
       '--output_dir', str(tmp_path / 'out')],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  header = next(l for l in proc.stdout.splitlines() if l.startswith('method'))
  for column in ('PSNR', 'SSIM', 'FID', 'KID', 'LPIPS', 'P-IDS', 'U-IDS'):
    assert column in header, header
  with open(tmp_path / 'out' / 'eval_32px_folder.json') as f:
    result = json.load(f)
  for row in result['results'].values():
    s = row['all']
    assert s['n'] == 4 and np.isfinite(s['fid']) and s['fid'] > 0
    assert s['lpips'] > 0 and 0 <= s['u_ids'] <= 1 and 0 <= s['p_ids'] <= 1
  # A file that is not weights stops eval.py at once, with the reason.
  bad = tmp_path / 'bad.pth'
  bad.write_bytes(b'junk')
  proc = subprocess.run(
      [sys.executable, 'eval.py', '--workdir', 'pretrained/vaegan64',
       '--fid_weights', str(bad)], cwd=ROOT, env=env, capture_output=True,
      text=True, timeout=300)
  assert proc.returncode != 0
  assert 'Cannot use the metric weights' in proc.stderr + proc.stdout

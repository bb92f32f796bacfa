"""network_metrics + eval.py: FID, KID, LPIPS, P-IDS/U-IDS from weight files.

The weights are drawn at random in the reference networks' layout (their
exactness is tests/evaluation/test_inception.py's and tests/evaluation/test_lpips.py's), saved
as the user's files would be, and given to eval.py; without a file, LPIPS
uses the shipped LPIPS-alex weights.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, xla_flags
from tests.fixtures import random_weights
from vaegan_jax.evaluation import inception
from vaegan_jax.evaluation import lpips
from vaegan_jax.evaluation import network_metrics
from vaegan_jax.evaluation import torch_weights
from vaegan_jax.run import image_io


@pytest.fixture(scope='module')
def weight_files(tmp_path_factory):
  d = tmp_path_factory.mktemp('weights')
  fid, lp = str(d / 'fid.npz'), str(d / 'lpips.npz')
  torch_weights.save_npz(fid, random_weights.state(0,
                                                   inception.param_shapes()))
  torch_weights.save_npz(lp, random_weights.state(0, lpips.param_shapes('vgg')))
  return fid, lp


@pytest.mark.heavy
def test_score_per_bucket(weight_files):
  scorers = network_metrics.load(*weight_files)
  assert scorers.lpips_net == 'vgg'
  truth = random_weights.images(0, 6, 32, 32) / 255.0
  rng = np.random.default_rng(0)
  noisy = np.clip(truth + rng.normal(0, 0.3, truth.shape), 0, 1)
  groups = {'all': np.arange(6), 'few': np.array([0])}
  out = network_metrics.score(scorers, {'same': truth, 'noisy': noisy}, truth,
                         groups)
  same, noise = out['same']['all'], out['noisy']['all']
  assert same['fid'] == pytest.approx(0.0, abs=1e-3)
  assert same['lpips'] == pytest.approx(0.0, abs=1e-6)
  assert noise['fid'] > 1.0 and noise['lpips'] > 0.01
  assert noise['kid'] > same['kid']
  # One image: no covariance, no SVM; LPIPS is still its own distance.
  assert np.isnan(out['noisy']['few']['fid'])
  assert out['noisy']['few']['lpips'] > 0.01


def test_lpips_is_loaded_by_default():
  scorers = network_metrics.load()
  assert scorers.inception is None and scorers.lpips_net == 'alex'
  shipped = torch_weights.load(lpips.DEFAULT_WEIGHTS)
  for k, v in shipped.items():
    np.testing.assert_array_equal(np.asarray(scorers.lpips[k]), v)
  off = network_metrics.load(lpips_weights=network_metrics.OFF)
  assert off.lpips is None and off.inception is None
  truth = random_weights.images(0, 2, 40, 40) / 255.0
  assert network_metrics.score(off, {'same': truth}, truth,
                          {'all': np.arange(2)}) == {'same': {'all': {}}}


def test_hole_box():
  mask = np.zeros((200, 300, 1), np.float32)
  mask[50:60, 100:140] = 1
  assert network_metrics.hole_box(mask) == (slice(18, 92), slice(68, 172))
  mask[:] = 0
  mask[190:, :5] = 1  # clipped to the image
  box = network_metrics.hole_box(mask)
  assert np.zeros((200, 300))[box].shape == (42, 37)
  assert network_metrics.hole_box(np.zeros((20, 30))) == (slice(None),) * 2


def test_photos_are_scored_around_the_hole():
  params, net = lpips.load_weights()
  rng = np.random.default_rng(0)
  truth, out, masks = [], [], []
  for h, w, (y, x) in ((120, 160, (60, 90)), (90, 130, (5, 100)),
                       (100, 100, (40, 40)), (20, 60, (5, 5))):
    t = random_weights.images(h, 1, h, w)[0] / 255.0
    m = np.zeros((h, w, 1), np.float32)
    m[y:y + 12, x:x + 16] = 1
    truth.append(t)
    masks.append(m)
    # 8-bit values: lpips_distances quantises as saved PNGs would be.
    out.append(np.where(m > 0.5, rng.integers(0, 256, t.shape) / 255.0, t))
  got = network_metrics.lpips_distances(params, net, out, truth, masks)
  for i in range(3):
    box = network_metrics.hole_box(masks[i])
    want = lpips.distance_jit(params, net, out[i][box][None],
                              truth[i][box][None])
    np.testing.assert_allclose(got[i], np.asarray(want)[0], rtol=1e-5)
  # A small hole weighs more against its surroundings than the whole photo.
  whole = network_metrics.lpips_distances(params, net, out[:1], truth[:1])
  assert got[0] > 1.5 * whole[0] > 0
  # Below lpips.min_side: nan, and so is the mean of a bucket holding it.
  assert np.isnan(got[3])
  scorers = network_metrics.Scorers(lpips=params, lpips_net=net)
  res = network_metrics.score(scorers, {'noisy': out}, truth,
                         {'big': np.arange(3), 'all': np.arange(4)},
                         masks=masks)['noisy']
  assert res['big']['lpips'] == pytest.approx(np.mean(got[:3]), rel=1e-6)
  assert np.isnan(res['all']['lpips'])


def test_bad_weight_files_are_refused_before_work(tmp_path, weight_files):
  _, lp = weight_files
  with pytest.raises(ValueError, match='not the expected network'):
    network_metrics.load(fid_weights=lp)
  with pytest.raises(FileNotFoundError):
    network_metrics.load(lpips_weights=str(tmp_path / 'none.pth'))


@pytest.mark.heavy
def test_eval_prints_the_published_metrics(tmp_path, weight_files):
  photos = tmp_path / 'photos'
  photos.mkdir()
  for i, img in enumerate(random_weights.images(1, 2, 40, 52)):
    image_io.save_png(str(photos / f'{i}.png'), img)
  fid, _ = weight_files
  env = dict(os.environ, XLA_FLAGS=xla_flags(1), JAX_PLATFORMS='cpu')
  # LPIPS without a flag: the shipped weights.
  proc = subprocess.run(
      [sys.executable, 'eval.py', '--workdir', 'pretrained/vaegan64',
       '--folder', str(photos), '--modes=32', '--num_masks_per_image=2',
       '--num_samples=0', '--fid_weights', fid,
       '--output_dir', str(tmp_path / 'out')],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  header = next(l for l in proc.stdout.splitlines() if l.startswith('method'))
  for column in ('PSNR', 'SSIM', 'FID', 'KID', 'LPIPS', 'P-IDS', 'U-IDS'):
    assert column in header, header
  with open(tmp_path / 'out' / 'eval_32px_folder.json') as f:
    result = json.load(f)
  assert set(result['results']) == {'default', 'fidelity'}
  for row in result['results'].values():
    s = row['all']
    assert s['n'] == 4 and np.isfinite(s['fid']) and s['fid'] > 0
    assert s['lpips'] > 0 and 0 <= s['u_ids'] <= 1 and 0 <= s['p_ids'] <= 1
  # A file that is not weights stops eval.py at once, with the reason; so
  # --lpips_weights replaces the shipped weights.
  bad = tmp_path / 'bad.pth'
  bad.write_bytes(b'junk')
  proc = subprocess.run(
      [sys.executable, 'eval.py', '--workdir', 'pretrained/vaegan64',
       '--lpips_weights', str(bad)], cwd=ROOT, env=env, capture_output=True,
      text=True, timeout=300)
  assert proc.returncode != 0
  assert 'Cannot use the metric weights' in proc.stderr + proc.stdout

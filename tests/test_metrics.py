"""Metrics: detail ratio, buckets, diversity, PSNR/SSIM plumbing."""
import numpy as np

from vaegan_jax import metrics


def _checker(n=2, size=16):
  y, x = np.mgrid[:size, :size]
  tile = ((x + y) % 2).astype(np.float32)
  return np.repeat(np.stack([tile] * n)[..., None], 3, -1)


def _box_mask(n=2, size=16, lo=3, hi=13):
  m = np.zeros((n, size, size, 1), np.float32)
  m[:, lo:hi, lo:hi] = 1
  return m


def test_gradient_energy_by_hand():
  x = np.zeros((1, 2, 3, 1))
  x[0, :, 1] = 1.0   # one bright column: 2 horizontal steps per row
  region = np.ones((1, 2, 3), bool)
  np.testing.assert_allclose(metrics.gradient_energy(x, region), [4.0])
  region[0, :, 2] = False   # the step 1 -> 2 leaves the region
  np.testing.assert_allclose(metrics.gradient_energy(x, region), [2.0])


def test_eroded_holes():
  holes = metrics.eroded_holes(_box_mask(1), pixels=2)
  assert holes.sum() == 6 * 6 and holes[0, 5:11, 5:11].all()


def test_detail_ratio_blur_noise_identity():
  truth = _checker()
  mask = _box_mask()
  same = metrics.summarize(metrics.image_metrics(truth, truth, mask))
  assert abs(same['detail_ratio'] - 1.0) < 1e-9 and same['hole_l1'] == 0
  flat = truth * (1 - mask) + 0.5 * mask
  blur = metrics.summarize(metrics.image_metrics(flat, truth, mask))
  assert blur['detail_ratio'] == 0.0 and blur['psnr'] < same['psnr']
  rng = np.random.RandomState(0)
  loud = metrics.summarize(metrics.image_metrics(
      0.5 * truth + 0.25 + mask * rng.uniform(-0.5, 0.5, truth.shape),
      0.5 * truth + 0.25, mask))
  assert loud['detail_ratio'] > 1.0


def test_buckets():
  ratios = np.array([0.04, 0.05, 0.19, 0.2, 0.39, 0.5, 0.6])
  got = metrics.bucket_indices(ratios)
  assert list(got) == ['5-20%', '20-40%', '40-60%']
  np.testing.assert_array_equal(got['5-20%'], [1, 2])
  np.testing.assert_array_equal(got['20-40%'], [3, 4])
  np.testing.assert_array_equal(got['40-60%'], [5])


def test_diversity():
  truth = _checker(n=2)
  mask = _box_mask(n=2)
  a = truth * (1 - mask) + 0.2 * mask
  b = truth * (1 - mask) + 0.6 * mask
  div = metrics.diversity(np.stack([a, b, a]), truth, mask)
  # pairs (a,b)=0.4, (a,a)=0, (b,a)=0.4 -> mean 0.8/3
  np.testing.assert_allclose(div['pairwise_hole_l1'], [0.8 / 3] * 2,
                             rtol=1e-5)
  best = metrics.image_metrics(b, truth, mask)['psnr']
  worst = metrics.image_metrics(a, truth, mask)['psnr']
  np.testing.assert_allclose(div['best_psnr'], np.maximum(best, worst),
                             rtol=1e-5)

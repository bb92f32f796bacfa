"""Metrics: detail ratio, buckets, diversity, PSNR/SSIM plumbing."""
import numpy as np
import pytest

from vaegan_jax.evaluation import metrics


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


def _photo_crops(n=12, size=64):
  """Crops of shipped training photos (never the reserved evaluation sets)."""
  from vaegan_jax.data import input_pipeline  # pylint: disable=g-import-not-at-top
  photos = input_pipeline.load_embedded_images('train')[:n]
  return np.stack([p[:size, :size] for p in photos]).astype(np.float32) / 255.


def _hole(n, size=64):
  m = np.zeros((n, size, size, 1), np.float32)
  m[:, size // 4:3 * size // 4, size // 5:4 * size // 5] = 1
  return m


def test_laplacian_pyramid_levels_and_reconstruction():
  x = np.random.default_rng(0).uniform(0, 1, (64, 40, 3)).astype(np.float32)
  levels = metrics.laplacian_pyramid(x, min_size=16)
  assert [l.shape[:2] for l in levels] == [(64, 40), (32, 20)]
  assert [l.shape[:2] for l in metrics.laplacian_pyramid(x, 8)] == [
      (64, 40), (32, 20), (16, 10)]
  # A constant image has no band-pass energy; its residual is the constant.
  flat = metrics.laplacian_pyramid(np.full((32, 32, 3), 0.3, np.float32))
  np.testing.assert_allclose(flat[0], 0, atol=1e-6)
  np.testing.assert_allclose(flat[-1], 0.3, atol=1e-6)


def test_hole_patches_lie_inside_the_hole():
  truth = _photo_crops(2)
  mask = _hole(2)
  patches = metrics.hole_patches(truth, mask, per_image=16)
  assert len(patches) == 3  # 64, 32 and 16 px levels
  for p, owner in patches:
    assert p.shape == (32, 147) and sorted(set(owner)) == [0, 1]
  # The same masks and seed give the same places, whatever the pixels.
  noise = np.random.default_rng(1).uniform(0, 1, truth.shape)
  for (_, a), (_, b) in zip(patches, metrics.hole_patches(noise, mask,
                                                          per_image=16)):
    np.testing.assert_array_equal(a, b)
  # Patches come from the hole: pixels further than the pyramid's filters
  # reach (8 px at the finest level) from the hole change no patch there.
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  near = np.stack([ndimage.binary_dilation(m[..., 0] > 0, iterations=8)
                   for m in mask])[..., None]
  np.testing.assert_allclose(
      metrics.hole_patches(np.where(near, truth, noise), mask,
                           per_image=16)[0][0], patches[0][0], atol=1e-3)
  assert not np.allclose(
      metrics.hole_patches(np.where(mask > 0, noise, truth), mask,
                           per_image=16)[0][0], patches[0][0], atol=1e-3)
  # No hole, no patches: NaN, not a score.
  none = metrics.hole_patches(truth, np.zeros_like(mask))
  assert np.isnan(metrics.swd(none, none)['swd'])


def test_swd_identical_blur_noise_shifted_texture():
  from vaegan_jax.evaluation import baselines  # pylint: disable=g-import-not-at-top
  truth = _photo_crops()
  mask = _hole(len(truth))
  hole = np.broadcast_to(mask > 0.5, truth.shape)
  reference = metrics.hole_patches(truth, mask)

  def score(fill):
    out = np.where(hole, np.clip(fill, 0.0, 1.0), truth)
    return metrics.swd(metrics.hole_patches(out, mask), reference)

  same = score(truth)
  assert all(v == 0.0 for v in same.values())
  low = np.stack([baselines.lowpass(x, 2.0) for x in truth])
  blur = score(low)['swd']
  noise = score(truth + np.random.default_rng(0).normal(0, 0.05,
                                                         truth.shape))['swd']
  shifted = score(low + np.stack([baselines.shifted_band(x, 2.0)
                                  for x in truth]))['swd']
  assert blur > 50 and noise > 50, (blur, noise)
  # The truth's own texture at a wrong phase beats blur.
  assert shifted < 0.6 * blur, (shifted, blur)
  # Speckle with the band's own amplitude (which the detail ratio counts as
  # texture) scores worse than the truth's texture.
  band = np.stack([baselines.shifted_band(x, 2.0) for x in truth])
  speckle = low + np.random.default_rng(1).normal(0, 1, truth.shape) * (
      band.std(axis=(1, 2, 3), keepdims=True))
  assert score(speckle)['swd'] > 1.15 * shifted, (score(speckle), shifted)
  # A repeated artifact (stripes on the smooth fill) is far from the truth.
  stripes = low + 0.1 * np.sin(2.5 * np.arange(64))[None, None, :, None]
  assert score(stripes)['swd'] > 2 * shifted


def test_sliced_wasserstein_by_hand():
  a = np.zeros((4, 1))
  b = np.full((4, 1), 2.0)  # every projection of a 1-d set is +-itself
  assert abs(metrics.sliced_wasserstein(a, b, num_projections=3) - 2) < 1e-9
  with pytest.raises(ValueError, match='equal shape'):
    metrics.sliced_wasserstein(a, b[:3])

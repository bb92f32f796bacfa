"""Classical baselines: composited, known pixels exact, sensible fills."""
import sys

import numpy as np
import pytest

from vaegan_jax.evaluation import baselines


def _data():
  y, x = np.mgrid[:24, :24] / 23.0
  image = np.stack([x, y, (x + y) / 2], -1)[None].astype(np.float32)
  mask = np.zeros((1, 24, 24, 1), np.float32)
  mask[:, 8:16, 8:16] = 1
  return image, mask


@pytest.mark.parametrize('method', baselines.METHODS)
def test_methods_fill_only_the_hole(method):
  image, mask = _data()
  out = baselines.inpaint_classical(method, image, mask)
  assert out.shape == image.shape and out.dtype == np.float32
  hole = mask[..., 0] > 0
  np.testing.assert_array_equal(out[~hole], image[~hole])
  err = np.abs(out - image)[hole].mean()
  # A smooth ramp: every method but the mean fill (and shift-map, which
  # copies patches and leaves seams) is close to it.
  assert err < {'mean': 0.2, 'shiftmap': 0.15}.get(method, 0.05), err


def test_parse_methods():
  assert baselines.parse_methods('all') == baselines.METHODS
  assert baselines.parse_methods('none') == ()
  assert baselines.parse_methods('telea, mean') == ('telea', 'mean')
  with pytest.raises(ValueError, match='unknown'):
    baselines.parse_methods('telea,magic')
  with pytest.raises(ValueError, match='method'):
    baselines.inpaint_classical('magic', *_data())


def test_shiftmap_copies_texture_from_the_visible_region():
  # Vertical stripes: shift-map fills the hole with stripes, a diffusion
  # fill with a blur.
  x = np.arange(48)
  stripes = np.broadcast_to((x % 6 < 3).astype(np.float32)[None, :, None],
                            (48, 48, 3))[None].copy()
  mask = np.zeros((1, 48, 48, 1), np.float32)
  mask[:, 18:30, 18:30] = 1
  shift = baselines.inpaint_classical('shiftmap', stripes, mask)
  telea = baselines.inpaint_classical('telea', stripes, mask)
  err = lambda out: np.abs(out - stripes)[0, 18:30, 18:30].mean()
  assert err(shift) < 0.5 * err(telea), (err(shift), err(telea))


def test_oracle_is_biharmonic_plus_shifted_band():
  image, mask = _data()
  rng = np.random.default_rng(0)
  image = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1).astype(
      np.float32)
  oracle = baselines.inpaint_classical('oracle', image, mask)
  smooth = baselines.inpaint_classical('biharmonic', image, mask)
  band = baselines.shifted_band(image[0], baselines.ORACLE_SIGMA)
  hole = mask[0, ..., 0] > 0
  np.testing.assert_allclose(oracle[0][hole],
                             np.clip(smooth[0] + band, 0, 1)[hole], atol=1e-5)
  # The band is the truth's own, from half an image away.
  np.testing.assert_allclose(
      band[12, 12], (image[0] - baselines.lowpass(image[0], 2.0))[0, 0],
      atol=1e-6)


def test_images_of_different_sizes():
  image, mask = _data()
  images = [image[0], image[0, :20, :16]]
  masks = [mask[0], mask[0, :20, :16]]
  out = baselines.inpaint_classical('biharmonic', images, masks)
  assert [o.shape for o in out] == [(24, 24, 3), (20, 16, 3)]


def _diagonal_stripes(h, w, period=6):
  y, x = np.mgrid[:h, :w]
  t = ((x + y) % period < period // 2).astype(np.float32)
  return np.stack([0.2 + 0.6 * t, np.full_like(t, 0.5), 0.8 - 0.6 * t],
                  -1)[None]


def test_patchmatch_copies_texture_from_the_visible_region():
  # Odd sizes; PatchMatch continues the stripes into the hole, biharmonic
  # fills it with their mean colour.
  image = _diagonal_stripes(61, 67)
  mask = np.zeros((1, 61, 67, 1), np.float32)
  mask[:, 20:40, 25:45] = 1
  pm = baselines.inpaint_classical('patchmatch', image, mask)
  hole = mask[..., 0] > 0
  np.testing.assert_array_equal(pm[~hole], image[~hole])
  err = lambda out: np.abs(out - image)[hole].mean()
  smooth = baselines.inpaint_classical('biharmonic', image, mask)
  assert err(pm) < 0.25 * err(smooth), (err(pm), err(smooth))


def test_patchmatch_hole_on_the_border():
  image = _diagonal_stripes(48, 40)
  mask = np.zeros((1, 48, 40, 1), np.float32)
  mask[:, :16, -14:] = 1  # The top right corner.
  out = baselines.inpaint_classical('patchmatch', image, mask)
  hole = mask[..., 0] > 0
  np.testing.assert_array_equal(out[~hole], image[~hole])
  assert np.abs(out - image)[hole].mean() < 0.05


def test_patchmatch_is_seeded(monkeypatch):
  import patchmatch  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  image = rng.random((1, 40, 40, 3)).astype(np.float32)
  mask = np.zeros((1, 40, 40, 1), np.float32)
  mask[:, 10:30, 12:28] = 1
  first = baselines.inpaint_classical('patchmatch', image, mask)
  # Another user of the library's process-wide seed changes nothing.
  patchmatch.set_random_seed(12345)
  np.testing.assert_array_equal(
      baselines.inpaint_classical('patchmatch', image, mask), first)
  # ... while the seed does matter: on noise, another one fills differently.
  monkeypatch.setattr(baselines, 'PATCHMATCH_SEED', 1)
  other = baselines.inpaint_classical('patchmatch', image, mask)
  assert not np.array_equal(other, first)


def test_patchmatch_without_the_package(monkeypatch):
  monkeypatch.setitem(sys.modules, 'patchmatch', None)  # import fails.
  with pytest.raises(ImportError, match='pip install pypatchmatch'):
    baselines.inpaint_classical('patchmatch', *_data())

"""patch_features: what patches are compared on."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaegan_jax.inference import patch_features as pf


def test_valid_sources_are_the_fully_visible_patches():
  rng = np.random.default_rng(0)
  hole = rng.random((13, 17)) < 0.05
  inside = np.ones_like(hole)
  inside[:, 15:] = False
  got = np.asarray(pf.valid_sources(jnp.asarray(hole), jnp.asarray(inside), 5))
  want = np.zeros_like(hole)
  for y in range(13):
    for x in range(17):
      ys, xs = slice(y - 2, y + 3), slice(x - 2, x + 3)
      want[y, x] = (y >= 2 and x >= 2 and y + 3 <= 13 and x + 3 <= 17
                    and not hole[ys, xs].any() and inside[ys, xs].all())
  np.testing.assert_array_equal(got, want)


def test_gradient_features():
  img = jnp.asarray(np.tile(np.arange(6, dtype=np.float32)[None, :, None],
                            (4, 1, 3)))
  f = np.asarray(pf.features(img, True))
  assert f.shape == (4, 6, 9)
  np.testing.assert_allclose(f[:, 1:-1, 6:], 1.0)  # (x+1 - (x-1)) / 2
  np.testing.assert_allclose(f[:, :, 3:6], 0.0)    # flat along y
  assert pf.features(img, False) is img


@pytest.mark.parametrize('b', [1, 3, 7])
def test_box_blur_keeps_the_mean_and_has_the_boxes_variance(b):
  # Three boxes of 2b + 1 have variance 3 * ((2b + 1)**2 - 1) / 12 along
  # each axis; b is traced, so one compiled blur serves every width.
  x = np.zeros((64, 48, 3), np.float32)
  x[32, 24] = 1.0
  out = np.asarray(jax.jit(pf.box_blur)(jnp.asarray(x), jnp.int32(b)))
  assert out.sum() == pytest.approx(3.0, rel=1e-4)
  ys = np.arange(64)[:, None]
  var_y = float((out[..., 0] * np.square(ys - 32)).sum())
  assert var_y == pytest.approx(3 * ((2 * b + 1) ** 2 - 1) / 12, rel=1e-3)


@pytest.mark.parametrize('sigma', [2.0, 5.0, 20.0])
def test_blur_width_matches_the_gaussian_variance(sigma):
  b = pf.blur_width(sigma)
  assert 3 * ((2 * b + 1) ** 2 - 1) / 12 == pytest.approx(sigma ** 2, rel=0.5)


def test_box_blur_of_zero_width_is_the_identity():
  x = np.random.default_rng(0).random((16, 20, 3)).astype(np.float32)
  np.testing.assert_array_equal(
      np.asarray(pf.box_blur(jnp.asarray(x), jnp.int32(0))), x)


@pytest.mark.parametrize('padding', ['SAME', 'VALID'])
def test_row_stacked_conv_is_the_plain_conv(padding):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.random((23, 31, 3)).astype(np.float32))
  f = jnp.asarray(rng.normal(size=(7, 7, 3, 5)).astype(np.float32))
  plain = jax.lax.conv_general_dilated(
      x[None], f, (1, 1), padding, dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      precision=jax.lax.Precision.HIGHEST)[0]
  got = pf.conv(x, f, padding)
  assert got.shape == plain.shape
  np.testing.assert_allclose(got, plain, rtol=1e-5, atol=1e-5)

"""Tests of vaegan_jax/models/contextual_attention.py: copying from what is visible."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaegan_jax.models import contextual_attention as ca


def test_valid_keys_excludes_windows_that_touch_the_hole():
  mask = np.zeros((1, 32, 32, 1), np.float32)
  mask[0, 12:14, 12:14] = 1.0  # inside cell (3, 3)
  valid = np.asarray(ca.valid_keys(jnp.asarray(mask), 4))
  assert valid.shape == (1, 8, 8)
  # The windows of cells 2 and 3 (pixel rows 6..13 and 10..17) reach it.
  expected = np.ones((8, 8), bool)
  expected[2:4, 2:4] = False
  np.testing.assert_array_equal(valid[0], expected)


def test_correlate_matches_a_direct_sum():
  a = np.random.RandomState(0).randn(5, 7)
  b = np.random.RandomState(1).randn(5, 7)
  c = np.asarray(ca._correlate(jnp.asarray(a), jnp.asarray(b)))  # pylint: disable=protected-access
  for dy, dx in [(0, 0), (2, -3), (-4, 6), (1, 1)]:
    want = sum(a[y, x] * b[y + dy, x + dx]
               for y in range(5) for x in range(7)
               if 0 <= y + dy < 5 and 0 <= x + dx < 7)
    np.testing.assert_allclose(c[dy % 10, dx % 14], want, atol=1e-4)


def _two_copies(hole_box=(2, 6, 10, 14)):
  """Features whose right half repeats the left half, shifted 8 cells."""
  left = jax.random.normal(jax.random.PRNGKey(4), (8, 8, 6))
  feats = jnp.concatenate([left, left], axis=1)
  hole = np.zeros((8, 16), bool)
  y0, y1, x0, x1 = hole_box
  hole[y0:y1, x0:x1] = True
  feats = jnp.where(jnp.asarray(hole)[..., None], 0.0, feats)
  feats = feats / jnp.linalg.norm(feats, axis=-1, keepdims=True).clip(1e-6)
  return feats, jnp.asarray(hole)


def test_candidate_offsets_find_the_matching_surroundings():
  feats, hole = _two_copies()
  valid = ~jnp.asarray(np.pad(np.asarray(hole), 1)[1:-1, 1:-1])
  offsets = np.asarray(ca.candidate_offsets(feats, hole, valid & ~hole, 3))
  assert tuple(offsets[0]) == (0, -8)


def test_candidate_offsets_keep_their_distance():
  feats = jax.random.normal(jax.random.PRNGKey(7), (16, 16, 6))
  feats = jax.image.resize(feats[:4, :4], (16, 16, 6), 'linear')  # smooth
  feats = feats / jnp.linalg.norm(feats, axis=-1, keepdims=True)
  hole = jnp.zeros((16, 16), bool).at[6:10, 6:10].set(True)
  valid = ~jnp.zeros((16, 16), bool).at[5:11, 5:11].set(True)
  near = np.asarray(ca.candidate_offsets(feats, hole, valid, 4))
  apart = np.asarray(ca.candidate_offsets(feats, hole, valid, 4,
                                          min_distance=3))
  gaps = lambda o: [np.abs(a - b).max() for i, a in enumerate(o)  # pylint: disable=unnecessary-lambda-assignment
                    for b in o[i + 1:]]
  assert min(gaps(near)) < 3  # the best scores sit side by side
  assert min(gaps(apart)) >= 3
  np.testing.assert_array_equal(apart[0], near[0])


@pytest.mark.heavy
def test_energy_blend_keeps_the_contrast_where_copies_meet():
  # Random features: cells choose different offsets, and between them the
  # linear blend of unrelated copies loses contrast; 'energy' keeps it.
  feats = jax.random.normal(jax.random.PRNGKey(8), (1, 16, 16, 8))
  mask = jnp.zeros((1, 64, 64, 1)).at[:, 16:48, 16:48].set(1.0)
  band = jax.random.normal(jax.random.PRNGKey(9), (1, 64, 64, 1))
  kwargs = dict(stride=4, num_offsets=4, window=1, min_distance=2)
  linear = ca.copy_band(feats, mask, band * (1 - mask), **kwargs)
  energy = ca.copy_band(feats, mask, band * (1 - mask), blend='energy',
                        **kwargs)
  hole = np.asarray(mask[0, ..., 0]) > 0
  std = lambda x: float(np.std(np.asarray(x[0, ..., 0])[hole]))  # pylint: disable=unnecessary-lambda-assignment
  assert std(linear) < 0.9 and abs(std(energy) - 1.0) < 0.1
  same = np.isclose(np.asarray(linear), np.asarray(energy))[0, ..., 0]
  assert same[hole].mean() > 0.2  # inside one copy nothing changes


def test_copy_band_copies_the_translated_region_coherently():
  # An image whose right half repeats its left half: the hole on the right
  # must be filled with exactly the left half's pixels.
  s = 4
  feats, hole_cells = _two_copies()
  rng = np.random.RandomState(0)
  left = rng.randn(32, 32, 3).astype(np.float32)
  band = np.concatenate([left, left], axis=1)
  mask = np.repeat(np.repeat(np.asarray(hole_cells), s, 0), s, 1)
  mask = mask[None, ..., None].astype(np.float32)
  visible = jnp.asarray(band * (1 - mask[0]))[None]
  out = ca.copy_band(feats[None], jnp.asarray(mask), visible, stride=s)
  inside = mask[0, ..., 0] > 0
  np.testing.assert_allclose(np.asarray(out[0])[inside],
                             np.roll(band, 32, axis=1)[inside], atol=1e-4)


@pytest.mark.heavy
def test_copy_band_has_gradients_and_is_zero_without_a_source():
  feats = jax.random.normal(jax.random.PRNGKey(5), (2, 8, 8, 4))
  mask = jnp.zeros((2, 32, 32, 1)).at[0, 8:20, 8:20].set(1.0).at[1].set(1.0)
  band = jax.random.normal(jax.random.PRNGKey(6), (2, 32, 32, 3))

  def loss(f):
    return jnp.sum(ca.copy_band(f, mask, band * (1 - mask), stride=4)
                   * mask * band)
  grad = jax.grad(loss)(feats)
  assert float(jnp.abs(grad[0]).sum()) > 0
  out = ca.copy_band(feats, mask, band * (1 - mask), stride=4)
  assert float(jnp.abs(out[1]).max()) == 0.0  # nothing visible to copy
  hole = np.asarray(mask[0, ..., 0]) > 0
  assert float(np.abs(np.asarray(out[0]))[hole].mean()) > 0.3


def test_gaussian_blur_keeps_constants_and_smooths_noise():
  x = jnp.full((1, 9, 7, 2), 0.25)
  chex.assert_trees_all_close(ca.gaussian_blur(x, 2.0), x, atol=1e-6)
  noise = jax.random.normal(jax.random.PRNGKey(6), (1, 32, 32, 1))
  assert float(jnp.std(ca.gaussian_blur(noise, 2.0))) < 0.3


def test_hole_width_of_strokes_and_squares():
  mask = np.zeros((3, 64, 64, 1), np.float32)
  mask[0, 20:24, 10:50] = 1.0   # a stroke 4 px wide
  mask[1, 10:42, 10:42] = 1.0   # a 32 px square: 2 * 1024 / 124
  width = np.asarray(ca.hole_width(jnp.asarray(mask)))
  np.testing.assert_allclose(width, [2 * 160 / 84, 2 * 1024 / 124, 0.0],
                             rtol=1e-6)


def test_detail_band_per_image_sigma():
  x = jax.random.normal(jax.random.PRNGKey(10), (3, 24, 24, 2))
  band = ca.detail_band(x, jnp.array([2.0, 8.0, 2.0 ** 1.5]), 8.0)
  at = lambda s, i: x[i] - ca.gaussian_blur(x[i:i + 1], s)[0]  # pylint: disable=unnecessary-lambda-assignment
  chex.assert_trees_all_close(band[0], at(2.0, 0), atol=1e-5)
  chex.assert_trees_all_close(band[1], at(8.0, 1), atol=1e-5)
  chex.assert_trees_all_close(band[2], 0.5 * (at(2.0, 2) + at(4.0, 2)),
                              atol=1e-5)

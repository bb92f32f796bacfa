"""patch_match: the per-level PatchMatch kernels."""

import jax
import pytest
import jax.numpy as jnp
import numpy as np

from vaegan_jax.inference import patch_match as pm


def test_valid_sources_are_the_fully_visible_patches():
  rng = np.random.default_rng(0)
  hole = rng.random((13, 17)) < 0.05
  inside = np.ones_like(hole)
  inside[:, 15:] = False
  got = np.asarray(pm.valid_sources(jnp.asarray(hole), jnp.asarray(inside), 5))
  want = np.zeros_like(hole)
  for y in range(13):
    for x in range(17):
      ys, xs = slice(y - 2, y + 3), slice(x - 2, x + 3)
      want[y, x] = (y >= 2 and x >= 2 and y + 3 <= 13 and x + 3 <= 17
                    and not hole[ys, xs].any() and inside[ys, xs].all())
  np.testing.assert_array_equal(got, want)


def test_search_recovers_a_translation():
  """Target = the source moved by (5, -7): PatchMatch finds that shift."""
  rng = np.random.default_rng(1)
  src = rng.random((64, 64, 3)).astype(np.float32)
  tgt = np.roll(src, (-5, 7), axis=(0, 1))
  valid = np.ones((64, 64), bool)
  filters = pm._pca_filters(jax.random.key(0, impl='unsafe_rbg'),
                            jnp.asarray(src), jnp.asarray(valid), 5, 16, 512)
  fs = pm._conv(jnp.asarray(src), filters, 'SAME')
  ft = pm._conv(jnp.asarray(tgt), filters, 'SAME')
  nnf = pm._sample_valid(jax.random.key(1, impl='unsafe_rbg'),
                         jnp.asarray(valid), (64, 64))
  dist = jnp.full((64, 64), jnp.inf)
  nnf, dist = pm._search(jax.random.key(2, impl='unsafe_rbg'), ft, fs,
                         jnp.asarray(valid), nnf, dist, 3, 1.0)
  grid = np.stack(np.meshgrid(np.arange(64), np.arange(64), indexing='ij'),
                  -1)
  offset = np.asarray(nnf) - grid
  inner = (slice(8, 56), slice(8, 56))  # away from the wrapped border
  right = np.all(offset[inner] == (5, -7), axis=-1)
  assert right.mean() > 0.95


def test_best_vote_copies_one_source_pixel_and_the_mean_averages():
  """The best-only vote gives each pixel the colour of its heaviest
  covering patch: a pixel of the source, never a blend."""
  rng = np.random.default_rng(2)
  src = rng.random((20, 20, 3)).astype(np.float32)
  nnf = rng.integers(3, 17, (8, 8, 2)).astype(np.int32)
  weight = rng.random((8, 8)).astype(np.float32) + 0.1
  best, ok = pm._vote(jnp.asarray(src), jnp.asarray(nnf), jnp.asarray(weight),
                      3, best=True)
  mean, _ = pm._vote(jnp.asarray(src), jnp.asarray(nnf), jnp.asarray(weight),
                     3)
  best, mean = np.asarray(best), np.asarray(mean)
  assert np.asarray(ok).all()
  # Check one interior pixel by hand: the heaviest of its 9 covering patches.
  y, x = 4, 5
  cands = [(weight[y - dy, x - dx], src[nnf[y - dy, x - dx, 0] + dy,
                                        nnf[y - dy, x - dx, 1] + dx])
           for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
  np.testing.assert_allclose(best[y, x], max(cands, key=lambda c: c[0])[1])
  colours = src.reshape(-1, 3)
  is_source = lambda c: np.abs(colours - c).sum(-1).min() < 1e-6
  assert all(is_source(c) for c in best.reshape(-1, 3))
  assert not any(is_source(c) for c in mean[1:-1, 1:-1].reshape(-1, 3))


def test_similarity_table_falls_steeply_and_relative_follows_the_mean():
  scale = 100.0
  d = jnp.array([0.0, 1.0, 4.0, 6.0, 20.0, jnp.inf]) * scale / 100.0
  w = np.asarray(pm.similarity(d, scale, False, 1.0))
  np.testing.assert_allclose(w[:4], [1.0, 0.99, 0.38, 0.02], atol=1e-6)
  assert w[4] < 1e-5 and w[5] == 0.0
  assert np.all(np.diff(w[:5]) < 0)
  r = np.asarray(pm.similarity(jnp.array([1.0, 2.0, 3.0]), 1.0, True, 1.0))
  np.testing.assert_allclose(r, np.exp(-np.array([0.5, 1.0, 1.5])),
                             rtol=1e-6)


def test_gradient_features_and_trust():
  img = jnp.asarray(np.tile(np.arange(6, dtype=np.float32)[None, :, None],
                            (4, 1, 3)))
  f = np.asarray(pm.features(img, True))
  assert f.shape == (4, 6, 9)
  np.testing.assert_allclose(f[:, 1:-1, 6:], 1.0)  # (x+1 - (x-1)) / 2
  np.testing.assert_allclose(f[:, :, 3:6], 0.0)    # flat along y
  assert pm.features(img, False) is img
  dist = jnp.array([[1.0, 1.0, 1.0, 30.0]])
  hole = jnp.ones((1, 4), bool)
  t = np.asarray(pm._trust(dist, hole, 3.0))
  assert t[0, 0] > 0.8 and t[0, 3] < 0.05
  np.testing.assert_array_equal(np.asarray(pm._trust(dist, hole, 0.0)), 1.0)


def test_a_carried_match_is_kept_unless_fresh_start():
  """With no rounds, a level only votes the match carried up from the
  coarser level; fresh_start lets random matches replace it first."""
  from vaegan_jax.inference import patch_synthesis as ps  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  img = jnp.asarray(rng.random((32, 32, 3)).astype(np.float32))
  hole = np.zeros((32, 32), bool)
  hole[10:20, 10:20] = True
  inside = np.ones((32, 32), bool)
  grid = np.stack(np.meshgrid(np.arange(32), np.arange(32), indexing='ij'),
                  -1)
  carried = np.where(hole[..., None], grid + [0, 12], grid).astype(np.int32)

  def run(fresh):
    s = ps.Settings(patch=5, dims=8, fresh_start=fresh)
    _, nnf, _ = pm.level(
        jax.random.key(0, impl='unsafe_rbg'), img, jnp.asarray(hole),
        jnp.asarray(inside), img, img, jnp.asarray(carried),
        jnp.array([0, 0], jnp.int32), 0, 1, True, jnp.float32(0.0),
        jnp.int32(1), box_shape=(32, 32), kernel=ps.kernel(s), vote_patch=5)
    return np.asarray(nnf)

  np.testing.assert_array_equal(run(False)[hole], carried[hole])
  assert (run(True)[hole] != carried[hole]).any()


@pytest.mark.parametrize('b', [1, 3, 7])
def test_box_blur_keeps_the_mean_and_has_the_boxes_variance(b):
  # Three boxes of 2b + 1 have variance 3 * ((2b + 1)**2 - 1) / 12 along
  # each axis; b is traced, so one compiled blur serves every width.
  x = np.zeros((64, 48, 3), np.float32)
  x[32, 24] = 1.0
  out = np.asarray(jax.jit(pm._box_blur)(jnp.asarray(x), jnp.int32(b)))
  assert out.sum() == pytest.approx(3.0, rel=1e-4)
  ys = np.arange(64)[:, None]
  var_y = float((out[..., 0] * np.square(ys - 32)).sum())
  assert var_y == pytest.approx(3 * ((2 * b + 1) ** 2 - 1) / 12, rel=1e-3)


@pytest.mark.parametrize('sigma', [2.0, 5.0, 20.0])
def test_blur_width_matches_the_gaussian_variance(sigma):
  b = pm.blur_width(sigma)
  assert 3 * ((2 * b + 1) ** 2 - 1) / 12 == pytest.approx(sigma ** 2, rel=0.5)


def test_box_blur_of_zero_width_is_the_identity():
  x = np.random.default_rng(0).random((16, 20, 3)).astype(np.float32)
  np.testing.assert_array_equal(
      np.asarray(pm._box_blur(jnp.asarray(x), jnp.int32(0))), x)


@pytest.mark.parametrize('padding', ['SAME', 'VALID'])
def test_row_stacked_conv_is_the_plain_conv(padding):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.random((23, 31, 3)).astype(np.float32))
  f = jnp.asarray(rng.normal(size=(7, 7, 3, 5)).astype(np.float32))
  plain = jax.lax.conv_general_dilated(
      x[None], f, (1, 1), padding, dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      precision=jax.lax.Precision.HIGHEST)[0]
  got = pm._conv(x, f, padding)
  assert got.shape == plain.shape
  np.testing.assert_allclose(got, plain, rtol=1e-5, atol=1e-5)

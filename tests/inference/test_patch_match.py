"""patch_match: the per-level PatchMatch kernels."""

import jax
import pytest
import jax.numpy as jnp
import numpy as np

from vaegan_jax.inference import patch_features as pf
from vaegan_jax.inference import patch_match as pm


def test_search_recovers_a_translation():
  """Target = the source moved by (5, -7): PatchMatch finds that shift."""
  rng = np.random.default_rng(1)
  src = rng.random((64, 64, 3)).astype(np.float32)
  tgt = np.roll(src, (-5, 7), axis=(0, 1))
  valid = np.ones((64, 64), bool)
  filters = pf.pca_filters(jax.random.key(0, impl='unsafe_rbg'),
                            jnp.asarray(src), jnp.asarray(valid), 5, 16, 512)
  fs = pf.conv(jnp.asarray(src), filters, 'SAME')
  ft = pf.conv(jnp.asarray(tgt), filters, 'SAME')
  nnf = pf.sample_valid(jax.random.key(1, impl='unsafe_rbg'),
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


def test_trust_falls_where_no_source_resembles_the_target():
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

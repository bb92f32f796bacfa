"""patch_match: the per-level PatchMatch kernels."""

import jax
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

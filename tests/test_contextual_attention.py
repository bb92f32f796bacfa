"""Tests of vaegan_jax/contextual_attention.py: copying from what is visible."""
import chex
import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax import contextual_attention as ca


def _identity(n, cells):
  return jnp.broadcast_to(jnp.eye(cells), (n, cells, cells))


def test_paste_with_identity_weights_gives_the_values_back():
  values = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 24, 3))
  out = ca.paste(_identity(2, 4 * 6), values, 4)
  chex.assert_trees_all_close(out, values, atol=1e-5)


def test_paste_copies_the_chosen_window():
  values = jax.random.normal(jax.random.PRNGKey(1), (1, 32, 32, 3))
  # Every cell copies the cell one row down and two columns right: away
  # from the border the output is the image shifted by (4, 8) pixels.
  h = w = 8
  idx = np.arange(h * w).reshape(h, w)
  target = np.roll(np.roll(idx, -1, 0), -2, 1).reshape(-1)
  weights = jax.nn.one_hot(target, h * w)[None]
  out = ca.paste(weights, values, 4)
  chex.assert_trees_all_close(out[0, 4:24, 4:20], values[0, 8:28, 12:28],
                              atol=1e-5)


def test_valid_keys_excludes_windows_that_touch_the_hole():
  mask = np.zeros((1, 32, 32, 1), np.float32)
  mask[0, 12:14, 12:14] = 1.0  # inside cell (3, 3)
  valid = np.asarray(ca.valid_keys(jnp.asarray(mask), 4))
  assert valid.shape == (1, 8, 8)
  # The windows of cells 2 and 3 (pixel rows 6..13 and 10..17) reach it.
  expected = np.ones((8, 8), bool)
  expected[2:4, 2:4] = False
  np.testing.assert_array_equal(valid[0], expected)


def test_attention_copies_the_most_similar_visible_cell_and_has_gradients():
  key = jax.random.PRNGKey(2)
  feats = jax.random.normal(key, (1, 6, 6, 5))
  # Cell (1, 1) is a hole whose neighbourhood equals that of cell (4, 4).
  feats = feats.at[0, 0:3, 0:3].set(feats[0, 3:6, 3:6])
  valid = jnp.ones((1, 6, 6), bool).at[0, 0:3, 0:3].set(False)
  weights = ca.attention_weights(feats, valid, fuse=1)
  row = np.asarray(weights[0, 1 * 6 + 1])
  assert row.argmax() == 4 * 6 + 4
  np.testing.assert_allclose(row.sum(), 1.0, atol=1e-5)
  hard = jax.nn.one_hot(weights[0].argmax(-1), 36)
  np.testing.assert_allclose(weights[0], hard, atol=1e-6)  # hard copies
  assert np.asarray(valid[0].reshape(-1)[weights[0].argmax(-1)]).all()
  grad = jax.grad(lambda f: jnp.sum(
      ca.attention_weights(f, valid) * jnp.arange(36.0)))(feats)
  assert float(jnp.abs(grad).sum()) > 0


def test_attention_never_copies_from_the_hole_and_is_zero_without_keys():
  feats = jax.random.normal(jax.random.PRNGKey(3), (2, 4, 4, 3))
  valid = jnp.stack([jnp.ones((4, 4), bool).at[:2].set(False),
                     jnp.zeros((4, 4), bool)])
  weights = np.asarray(ca.attention_weights(feats, valid))
  assert weights[0][:, :8].sum() == 0  # no weight on invalid keys
  np.testing.assert_allclose(weights[0].sum(-1), 1.0, atol=1e-5)
  assert weights[1].sum() == 0


def test_fusion_prefers_coherent_offsets():
  # A random field and the same field shifted: with fusion, the cells of a
  # region copy with one common offset.
  base = jax.random.normal(jax.random.PRNGKey(4), (1, 8, 16, 4))
  feats = base.at[0, :, 8:].set(base[0, :, :8])
  feats = feats + 0.3 * jax.random.normal(jax.random.PRNGKey(5), feats.shape)
  valid = jnp.ones((1, 8, 16), bool).at[0, :, 8:].set(False)
  weights = ca.attention_weights(feats, valid, fuse=3)
  src = np.asarray(weights[0].argmax(-1)).reshape(8, 16)[2:6, 10:14]
  cols = src % 16
  rows = src // 16
  offsets = set(zip((rows - np.arange(2, 6)[:, None]).ravel(),
                    (cols - np.arange(10, 14)[None]).ravel()))
  assert offsets == {(0, -8)}


def test_gaussian_blur_keeps_constants_and_smooths_noise():
  x = jnp.full((1, 9, 7, 2), 0.25)
  chex.assert_trees_all_close(ca.gaussian_blur(x, 2.0), x, atol=1e-6)
  noise = jax.random.normal(jax.random.PRNGKey(6), (1, 32, 32, 1))
  assert float(jnp.std(ca.gaussian_blur(noise, 2.0))) < 0.3

"""bfloat16 compute (model.dtype) runs on CPU and stays close to float32."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests import conftest
from vaegan_jax.configs import test as test_config
from vaegan_jax.training import train_lib

TERMS = ('d_adv', 'recon', 'kl', 'feature', 'g_adv', 'prior_valid')


def _batch(n, size):
  rng = np.random.RandomState(0)
  yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size),
                       indexing='ij')
  smooth = np.stack([xx, yy, (xx + yy) / 2], -1)
  image = np.clip(smooth + 0.1 * rng.rand(n, size, size, 3), 0, 1)
  mask = np.zeros((n, size, size, 1), np.float32)
  mask[:, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1.0
  return {'image': image.astype(np.float32), 'mask': mask}


def _one_iteration(dtype):
  config = test_config.get_config()
  config.model.dtype = dtype
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  d, g = conftest.single_device_steps(config, nets, g_tx, d_tx)
  batch = _batch(config.batch_size, config.image_size)
  start = state.g_params
  state, d_metrics = d(state, batch)
  state, g_metrics = g(state, batch)
  update = jax.tree_util.tree_map(lambda a, b: a - b, state.g_params, start)
  return state, update, jax.device_get({**d_metrics, **g_metrics})


@pytest.mark.heavy
def test_bf16_against_fp32():
  # One test: the two compiled iterations are most of its time, and each
  # xdist worker would compile them again for a test of its own.
  (_, fp32_update, fp32), (state, bf16_update, bf16) = (
      _one_iteration('float32'), _one_iteration('bfloat16'))

  # Params and optimizer state stay float32.
  for tree in (state.g_params, state.d_params, state.g_opt_state,
               state.d_opt_state, state.ema_params):
    for leaf in jax.tree_util.tree_leaves(tree):
      if jnp.issubdtype(leaf.dtype, jnp.floating):
        assert leaf.dtype == jnp.float32, leaf.dtype

  # Losses are finite and close to fp32's.
  for k in TERMS + ('d_grad_norm', 'g_grad_norm'):
    assert np.isfinite(bf16[k]), (k, bf16[k])
    # bf16 keeps 8 mantissa bits (~0.4% per rounding); a few layers of
    # rounding stay within a few percent of the loss.
    np.testing.assert_allclose(bf16[k], fp32[k], rtol=0.05, atol=0.01,
                               err_msg=k)

  # The update points the same way.  Adam's first step is about
  # lr * sign(grad): weights with tiny gradients may flip, so compare the
  # whole update's direction.
  a = np.concatenate([np.ravel(x)
                      for x in jax.tree_util.tree_leaves(fp32_update)])
  b = np.concatenate([np.ravel(x)
                      for x in jax.tree_util.tree_leaves(bf16_update)])
  assert np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.9

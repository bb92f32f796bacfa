"""D and G steps: device-count invariance, gradient routing, learning."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import jax_utils

from configs import test as test_config
from tests.test_inference import unzero_kernels
from vaegan_jax import train_lib


def _batch(n, size, seed=0):
  rng = np.random.RandomState(seed)
  image = rng.rand(n, size, size, 3).astype(np.float32)
  mask = np.zeros((n, size, size, 1), np.float32)
  mask[:, size // 4: size // 2 + size // 4, size // 4:3 * size // 4] = 1.0
  return {'image': image, 'mask': mask}


def _single_device_steps(config, nets, g_tx, d_tx):
  d = jax.jit(functools.partial(train_lib.d_step, nets=nets, d_tx=d_tx,
                                loss_config=config.loss, axis_name=None))
  g = jax.jit(functools.partial(train_lib.g_step, nets=nets, g_tx=g_tx,
                                loss_config=config.loss,
                                ema_decay=config.optim.ema_decay,
                                axis_name=None))
  return d, g


@pytest.fixture(scope='module')
def setup():
  config = test_config.get_config()
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  d, g = _single_device_steps(config, nets, g_tx, d_tx)
  return config, nets, g_tx, d_tx, state, d, g


def _assert_trees_close(a, b, **tol):
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


def test_eight_devices_match_one_device(setup):
  config, nets, g_tx, d_tx, state, d1, g1 = setup
  assert jax.local_device_count() == 8
  batch = _batch(config.batch_size, config.image_size)
  # One device, whole global batch.
  s1, dm1 = d1(state, batch)
  s1, gm1 = g1(s1, batch)
  # Eight devices, one example each.
  p_d, p_g = train_lib.make_pmapped_steps(config, nets, g_tx, d_tx)
  sharded = jax.tree_util.tree_map(
      lambda x: x.reshape((8, -1) + x.shape[1:]), batch)
  s8, dm8 = p_d(jax_utils.replicate(state), sharded)
  s8, gm8 = p_g(s8, sharded)
  s8 = jax_utils.unreplicate(s8)
  assert int(s8.step) == int(s1.step) == 1
  for k in ('d_adv', 'd_grad_norm', 'recon', 'kl', 'feature', 'g_adv',
            'g_grad_norm'):
    np.testing.assert_allclose(dm8.get(k, gm8.get(k))[0],
                               dm1.get(k, gm1.get(k)), rtol=2e-4, err_msg=k)
  # Adam's first step is ~lr * sign(grad): compare params to a fraction of lr.
  tol = dict(rtol=1e-4, atol=0.02 * config.optim.g_lr)
  _assert_trees_close(s8.d_params, s1.d_params, **tol)
  _assert_trees_close(s8.g_params, s1.g_params, **tol)
  _assert_trees_close(s8.ema_params, s1.ema_params, **tol)
  # The step really moved the parameters.
  moved = jax.tree_util.tree_map(lambda a, b: np.abs(a - b).max(),
                                 s1.g_params, state.g_params)
  assert min(jax.tree_util.tree_leaves(moved)) >= 0
  assert max(jax.tree_util.tree_leaves(moved)) > 0.5 * config.optim.g_lr


TERMS = ('g_adv', 'prior_valid', 'kl', 'recon', 'feature')


def test_gradient_routing(setup):
  config, nets, _, _, state, _, _ = setup
  batch = _batch(4, config.image_size)
  image, mask = batch['image'] * 2 - 1, batch['mask']
  key = jax.random.PRNGKey(3)

  def g_terms(g_params):
    _, terms = train_lib.generator_losses(
        g_params, state.d_params, image, mask, key, nets=nets,
        loss_config=config.loss, axis_name=None)
    return jnp.stack([terms[t] for t in TERMS])

  def d_loss_of_g(g_params):
    return train_lib.discriminator_losses(
        state.d_params, g_params, image, mask, key, nets=nets,
        loss_config=config.loss, axis_name=None)[0]

  def norm(tree, rows=None):
    leaves = [x.reshape(rows or 1, -1) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.sqrt(sum(jnp.sum(jnp.square(x), axis=1) for x in leaves))

  @jax.jit
  def norms(g_params):
    per_term = jax.jacrev(g_terms)(g_params)   # leaves [len(TERMS), ...]
    d_grad = jax.grad(d_loss_of_g)(g_params)
    return ({k: norm(v, len(TERMS)) for k, v in per_term.items()},
            {k: norm(v)[0] for k, v in d_grad.items()})

  # At initialisation a refining generator outputs its fill exactly (its
  # residual conv starts at zero), so no term reaches z or the encoders yet.
  g_params = unzero_kernels(state.g_params)
  per_term, d_norms = jax.device_get(norms(g_params))
  grads = {t: {k: float(per_term[k][i]) for k in per_term}
           for i, t in enumerate(TERMS)}
  adv = grads['g_adv']
  assert adv['prior'] == 0 and adv['posterior'] == 0, adv
  assert adv['generator'] > 0
  valid = grads['prior_valid']
  assert valid['prior'] == 0 and valid['posterior'] == 0, valid
  kl = grads['kl']
  assert kl['generator'] == 0 and kl['prior'] > 0 and kl['posterior'] > 0, kl
  recon = grads['recon']
  assert recon['posterior'] > 0 and recon['generator'] > 0, recon
  assert recon['prior'] == 0, recon
  feature = grads['feature']
  assert feature['posterior'] > 0 and feature['generator'] > 0, feature
  # D's loss gives no gradient to the generator side.
  assert all(float(v) == 0 for v in d_norms.values()), d_norms


def test_steps_touch_only_their_network(setup):
  config, nets, g_tx, d_tx, state, d, g = setup
  batch = _batch(config.batch_size, config.image_size)
  after_d, _ = d(state, batch)
  _assert_trees_close(after_d.g_params, state.g_params, rtol=0, atol=0)
  assert int(after_d.step) == 0
  after_g, _ = g(after_d, batch)
  _assert_trees_close(after_g.d_params, after_d.d_params, rtol=0, atol=0)
  assert int(after_g.step) == 1


def test_hinge_r1_and_recon_fakes_run(setup):
  config = setup[0]
  config = config.copy_and_resolve_references()
  config.loss.adv_kind = 'hinge'
  config.loss.r1_weight = 1.0
  config.loss.adv_on_recon = True
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(1))
  d, g = _single_device_steps(config, nets, g_tx, d_tx)
  state, dm = d(state, _batch(4, config.image_size))
  state, gm = g(state, _batch(4, config.image_size))
  assert float(dm['r1']) > 0
  assert all(np.isfinite(float(v)) for v in {**dm, **gm}.values())


def test_tiny_model_overfits_a_few_images():
  config = test_config.get_config()
  # From scratch: a harmonic initial fill already fills these linear and
  # bilinear images exactly, leaving nothing to learn.
  config.model.initial_fill = 'none'
  config.model.residual_gate = False
  config.optim.g_lr = 2e-3
  config.optim.d_lr = 2e-4
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  d, g = _single_device_steps(config, nets, g_tx, d_tx)
  size = config.image_size
  # Smooth, structured images: learnable from the visible context.
  yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size),
                       indexing='ij')
  image = np.stack([np.stack([xx, yy, (xx + yy) / 2], -1),
                    np.stack([yy, 1 - xx, xx * yy], -1)]).astype(np.float32)
  batch = {'image': np.concatenate([image] * 4),
           'mask': _batch(8, size)['mask']}
  first = None
  for _ in range(150):
    state, _ = d(state, batch)
    state, gm = g(state, batch)
    first = float(gm['hole_l1']) if first is None else first
  last = float(gm['hole_l1'])
  assert last <= 0.5 * first, (first, last)

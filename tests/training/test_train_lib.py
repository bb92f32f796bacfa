"""D and G steps: device-count invariance, gradient routing, learning."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import jax_utils

from tests import conftest
from tests.conftest import batch_of, unzero_kernels
from vaegan_jax.configs import test as test_config
from vaegan_jax.training import losses
from vaegan_jax.training import train_lib


@pytest.fixture(scope='module')
def setup():
  config = test_config.get_config()
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  d, g = conftest.single_device_steps(config, nets, g_tx, d_tx)
  return config, nets, g_tx, d_tx, state, d, g


def _assert_trees_close(a, b, **tol):
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


@pytest.mark.heavy
def test_eight_devices_match_one_device(setup):
  config, nets, g_tx, d_tx, state, d1, g1 = setup
  # Live paths everywhere: at initialisation the zero residual convs stop
  # the gradient of everything upstream of them (conftest.unzero_kernels).
  state = state.replace(g_params=unzero_kernels(state.g_params))
  assert jax.local_device_count() == 8
  batch = batch_of(config.batch_size, config.image_size)
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
  # Adam's first step moves each parameter that has a gradient by ~lr: the
  # reconstruction reaches every weight of the posterior and of G's
  # decoder.  (The prior's KL is below its free bits at this step, so its
  # gradient is 0; test_gradient_routing checks which terms reach what.)
  for part in (moved['posterior'], moved['generator']['base']):
    leaves = np.array(jax.tree_util.tree_leaves(part))
    assert leaves.min() > 0.5 * config.optim.g_lr, leaves


# Which parts of the generator side each generator-step term must reach
# (True) or must not reach (False).  Taken against losses.GENERATOR_TERMS:
# a new term without a row here fails the test.
ROUTES = {
    'recon': dict(prior=False, posterior=True, generator=True),
    'kl': dict(prior=True, posterior=True, generator=False),
    'feature': dict(prior=False, posterior=True, generator=True),
    'g_adv': dict(prior=False, posterior=False, generator=True),
    'prior_valid': dict(prior=False, posterior=False, generator=True),
    'prior_hole': dict(prior=False, posterior=False, generator=True),
}


@pytest.mark.heavy
def test_gradient_routing(setup):
  config, nets, _, _, state, _, _ = setup
  assert set(ROUTES) == set(losses.GENERATOR_TERMS)
  loss_config = config.loss.copy_and_resolve_references()
  for name in loss_config.weights:
    loss_config.weights[name] = 1.0  # Every term computed and checked.
  # Below its free bits the KL has no gradient at all; routing is the point.
  loss_config.kl_free_bits = 0.0
  batch = batch_of(4, config.image_size)
  image, mask = batch['image'] * 2 - 1, batch['mask']
  key = jax.random.PRNGKey(3)

  def g_terms(g_params):
    _, terms = train_lib.generator_losses(
        g_params, state.d_params, image, mask, key, nets=nets,
        loss_config=loss_config, axis_name=None)
    assert set(losses.GENERATOR_TERMS) <= set(terms)
    return {t: terms[t] for t in losses.GENERATOR_TERMS}

  def d_loss_of_g(g_params):
    return train_lib.discriminator_losses(
        state.d_params, g_params, image, mask, key, nets=nets,
        loss_config=loss_config, axis_name=None)[0]

  def norm(tree):
    return jnp.sqrt(sum(jnp.sum(jnp.square(x))
                        for x in jax.tree_util.tree_leaves(tree)))

  @jax.jit
  def norms(g_params):
    per_term = jax.jacrev(g_terms)(g_params)   # {term: {part: grads}}
    d_grad = jax.grad(d_loss_of_g)(g_params)
    return ({t: {k: norm(v) for k, v in g.items()}
             for t, g in per_term.items()},
            {k: norm(v) for k, v in d_grad.items()})

  # At initialisation a refining generator outputs its fill exactly (its
  # residual conv starts at zero), so no term reaches z or the encoders yet.
  g_params = unzero_kernels(state.g_params)
  grads, d_norms = jax.device_get(norms(g_params))
  for term, route in ROUTES.items():
    for part, reached in route.items():
      assert (float(grads[term][part]) > 0) == reached, (term, grads[term])
  # D's loss gives no gradient to the generator side.
  assert all(float(v) == 0 for v in d_norms.values()), d_norms


def test_total_is_the_weighted_sum_of_the_terms(setup):
  config, nets, _, _, state, _, _ = setup
  batch = batch_of(4, config.image_size)
  image, mask = batch['image'] * 2 - 1, batch['mask']
  losses_fn = jax.jit(functools.partial(
      train_lib.generator_losses, nets=nets, loss_config=config.loss,
      axis_name=None))
  total, terms = losses_fn(state.g_params, state.d_params, image, mask,
                           jax.random.PRNGKey(3))
  weights = config.loss.weights
  want = sum(weights[t] * terms[t] for t in losses.GENERATOR_TERMS
             if weights[t])
  np.testing.assert_allclose(float(total), float(want), rtol=1e-6)
  # The KL that is optimised (free bits) and the raw KL are both logged.
  assert float(terms['kl']) >= config.loss.kl_free_bits - 1e-6
  assert float(terms['kl']) >= float(terms['kl_raw']) - 1e-6


def test_steps_touch_only_their_network(setup):
  config, nets, g_tx, d_tx, state, d, g = setup
  batch = batch_of(config.batch_size, config.image_size)
  after_d, _ = d(state, batch)
  _assert_trees_close(after_d.g_params, state.g_params, rtol=0, atol=0)
  assert int(after_d.step) == 0
  after_g, _ = g(after_d, batch)
  _assert_trees_close(after_g.d_params, after_d.d_params, rtol=0, atol=0)
  assert int(after_g.step) == 1


@pytest.mark.heavy
def test_hinge_r1_and_recon_fakes_run(setup):
  config = setup[0]
  config = config.copy_and_resolve_references()
  config.loss.adv_kind = 'hinge'
  config.loss.weights.r1 = 1.0
  config.loss.adv_on_recon = True
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(1))
  d, g = conftest.single_device_steps(config, nets, g_tx, d_tx)
  state, dm = d(state, batch_of(4, config.image_size))
  state, gm = g(state, batch_of(4, config.image_size))
  assert float(dm['r1']) > 0
  assert all(np.isfinite(float(v)) for v in {**dm, **gm}.values())


@pytest.mark.heavy
def test_tiny_model_overfits_a_few_images():
  config = test_config.get_config()
  # From scratch: a harmonic initial fill already fills these linear and
  # bilinear images exactly, leaving nothing to learn.
  config.model.vae.initial_fill = 'none'
  config.model.vae.residual_gate = False
  config.optim.g_lr = 2e-3
  config.optim.d_lr = 2e-4
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  d, g = conftest.single_device_steps(config, nets, g_tx, d_tx)
  size = config.image_size
  # Smooth, structured images: learnable from the visible context.
  yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size),
                       indexing='ij')
  image = np.stack([np.stack([xx, yy, (xx + yy) / 2], -1),
                    np.stack([yy, 1 - xx, xx * yy], -1)]).astype(np.float32)
  batch = {'image': np.concatenate([image] * 4),
           'mask': batch_of(8, size)['mask']}
  first = None
  for _ in range(150):
    state, _ = d(state, batch)
    state, gm = g(state, batch)
    first = float(gm['hole_l1']) if first is None else first
  last = float(gm['hole_l1'])
  assert last <= 0.5 * first, (first, last)

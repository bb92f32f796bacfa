"""The inpainter contract, checked for every registered network."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaegan_jax.configs import test as test_config
from vaegan_jax import models
from vaegan_jax.models import fills

INPAINTERS = [n for n, c in models.REGISTRY.items() if hasattr(c, 'encode')]
DISCRIMINATORS = [n for n in models.REGISTRY if n not in INPAINTERS]


def _config(inpainter='vae', discriminator='patch'):
  config = test_config.get_config()
  config.model.inpainter = inpainter
  config.model.discriminator = discriminator
  return config


@pytest.fixture(scope='module', params=INPAINTERS)
def setup(request):
  config = _config(inpainter=request.param)
  nets = models.create_networks(config.model)
  g_params, d_params = jax.jit(
      lambda k: models.init_params(k, nets, config.image_size))(
          jax.random.PRNGKey(0))
  # Some generators output their fill exactly at initialisation; perturb
  # the weights as training would, so that z and hole pixels could matter.
  keys = iter(jax.random.split(jax.random.PRNGKey(4), 1000))
  g_params = jax.tree_util.tree_map(
      lambda p: p + 0.05 * jax.random.normal(next(keys), p.shape), g_params)
  return config, nets, g_params, d_params


def _apply(nets, g_params, method, *args, **kwargs):
  return nets.inpainter.apply({'params': g_params}, *args, method=method,
                              **kwargs)


def test_registry_has_both_kinds():
  assert 'vae' in INPAINTERS and 'patch' in DISCRIMINATORS


@pytest.mark.parametrize('h,w', [(16, 16), (8, 24), (32, 12)])
@pytest.mark.heavy
def test_generator_contract_shapes_and_range(setup, h, w):
  _, nets, g_params, _ = setup
  assert set(g_params) == {'prior', 'posterior', 'generator'}
  gen = nets.inpainter
  assert h % gen.size_multiple == 0 and w % gen.size_multiple == 0
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, h, w, 3), minval=-1)
  m = jnp.zeros((2, h, w, 1)).at[:, : h // 2].set(1.0)
  for posterior in (False, True):
    z, mean, logvar = _apply(nets, g_params, 'encode', x, m,
                             posterior=posterior)
    assert z.shape == mean.shape == logvar.shape == gen.latent_shape(h, w, 2)
    np.testing.assert_array_equal(z, mean)
  out = _apply(nets, g_params, 'complete', x, m)
  assert out.shape == (2, h, w, 3)
  assert float(jnp.max(jnp.abs(out))) <= 1.0
  # Inference needs only the prior and the generator.
  inference_params = {k: g_params[k] for k in ('prior', 'generator')}
  np.testing.assert_array_equal(
      _apply(nets, inference_params, 'complete', x, m), out)


@pytest.mark.heavy
def test_generator_contract_prior_and_decode_ignore_hole_pixels(setup):
  _, nets, g_params, _ = setup
  m = jnp.zeros((1, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
  a = jax.random.uniform(jax.random.PRNGKey(2), (1, 16, 16, 3), minval=-1)
  b = a.at[:, 4:12, 4:12].set(-1.0)   # differs only inside the hole
  np.testing.assert_array_equal(_apply(nets, g_params, 'complete', a, m),
                                _apply(nets, g_params, 'complete', b, m))
  z = jax.random.normal(jax.random.PRNGKey(3),
                        nets.inpainter.latent_shape(16, 16, 1))
  np.testing.assert_array_equal(_apply(nets, g_params, 'decode', a, m, z),
                                _apply(nets, g_params, 'decode', b, m, z))
  # The posterior does read the hole.
  za = _apply(nets, g_params, 'encode', a, m, posterior=True)[1]
  zb = _apply(nets, g_params, 'encode', b, m, posterior=True)[1]
  assert float(jnp.max(jnp.abs(za - zb))) > 0


@pytest.mark.heavy
def test_generator_contract_noise_changes_output(setup):
  _, nets, g_params, _ = setup
  x = jnp.zeros((1, 16, 16, 3))
  m = jnp.ones((1, 16, 16, 1))
  eps = jax.random.normal(jax.random.PRNGKey(3),
                          nets.inpainter.latent_shape(16, 16, 1))
  a = _apply(nets, g_params, 'complete', x, m)
  b = _apply(nets, g_params, 'complete', x, m, eps)
  assert float(jnp.max(jnp.abs(a - b))) > 1e-4


@pytest.mark.heavy
def test_generator_contract_k_latents_per_image(setup):
  # k latents per image: the same output as repeating the image k times.
  _, nets, g_params, _ = setup
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3), minval=-1)
  m = jnp.zeros((2, 16, 16, 1)).at[:, 4:12].set(1.0)
  z = jax.random.normal(jax.random.PRNGKey(2),
                        nets.inpainter.latent_shape(16, 16, 6))
  shared = _apply(nets, g_params, 'decode', x, m, z)
  repeated = _apply(nets, g_params, 'decode', jnp.concatenate([x] * 3),
                    jnp.concatenate([m] * 3), z)
  np.testing.assert_allclose(shared, repeated, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match='multiple'):
    _apply(nets, g_params, 'decode', x, m, z[:5])


@pytest.mark.heavy
def test_generator_contract_fidelity_output(setup):
  # fidelity=True: the same inputs, a valid output; for the attention
  # generator it is the base fill alone, so the attention branch (every
  # generator weight outside 'base') cannot change it.
  config, nets, g_params, _ = setup
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 32, 32, 3), minval=-1)
  m = jnp.zeros((2, 32, 32, 1)).at[:, 8:20, 4:16].set(1.0)
  fid = _apply(nets, g_params, 'complete', x, m, fidelity=True)
  assert fid.shape == x.shape and float(jnp.max(jnp.abs(fid))) <= 1.0
  default = _apply(nets, g_params, 'complete', x, m)
  if config.model.inpainter != 'attention':
    np.testing.assert_array_equal(fid, default)
    return
  assert float(jnp.max(jnp.abs(fid - default))) > 1e-3
  gen = dict(g_params['generator'])
  keys = iter(jax.random.split(jax.random.PRNGKey(5), 100))
  moved = {k: (v if k == 'base' else jax.tree_util.tree_map(
      lambda p: jax.random.normal(next(keys), p.shape), v))
           for k, v in gen.items()}
  other = dict(g_params, generator=moved)
  np.testing.assert_array_equal(
      _apply(nets, other, 'complete', x, m, fidelity=True), fid)
  assert float(jnp.max(jnp.abs(
      _apply(nets, other, 'complete', x, m) - default))) > 1e-3


@pytest.mark.parametrize('name', DISCRIMINATORS)
@pytest.mark.heavy
def test_discriminator_contract(name):
  config = _config(discriminator=name)
  nets = models.create_networks(config.model)
  _, d_params = models.init_params(jax.random.PRNGKey(0), nets, 16)
  f = nets.discriminator.size_multiple
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 2 * f, 3 * f, 3),
                         minval=-1)
  logits, feats = nets.discriminator.apply({'params': d_params}, x,
                                           jnp.zeros((2, 2 * f, 3 * f, 1)))
  assert logits.shape[0] == 2 and logits.shape[-1] == 1
  assert feats and all(ft.shape[0] == 2 for ft in feats)


def test_bfloat16_params_stay_float32():
  config = _config()
  config.model.dtype = 'bfloat16'
  nets = models.create_networks(config.model)
  g_params, _ = jax.jit(lambda k: models.init_params(k, nets, 16))(
      jax.random.PRNGKey(0))
  assert {x.dtype for x in jax.tree_util.tree_leaves(g_params)} == {
      jnp.dtype('float32')}
  out = jax.jit(lambda p, x, m: _apply(nets, p, 'complete', x, m))(
      g_params, jnp.zeros((1, 16, 16, 3)), jnp.ones((1, 16, 16, 1)))
  assert out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))
  with pytest.raises(ValueError, match='model.dtype'):
    models.dtype_from_name('float8')


def test_vaegan_starts_at_the_fill():
  config = _config()
  assert config.model.vae.initial_fill == 'harmonic'
  nets = models.create_networks(config.model)
  g_params, _ = models.init_params(jax.random.PRNGKey(0), nets, 16)
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3), minval=-1)
  m = jnp.zeros((2, 16, 16, 1)).at[:, 4:12, 2:9].set(1.0)
  np.testing.assert_allclose(
      _apply(nets, g_params, 'complete', x, m),
      fills.harmonic_fill(x * (1 - m), m,
                          config.model.vae.fill_iterations), atol=1e-6)


@pytest.mark.parametrize('change,match', [
    (dict(inpainter='unet9'), r"model.inpainter='unet9' is not a registered"),
    (dict(vae__initial_fill='magic'), 'initial_fill'),
    (dict(vae__widht=3), r"config.model.vae has keys \['widht'\]"),
    (dict(patch=None), 'needs its sub-config config.model.patch'),
])
def test_bad_model_config_is_a_clear_error(change, match):
  config = _config()
  for key, value in change.items():
    parent, _, leaf = key.rpartition('__')
    target = config.model[parent] if parent else config.model
    if value is None:
      del target[leaf]
    else:
      with target.unlocked() if hasattr(target, 'unlocked') else _null():
        target[leaf] = value
  with pytest.raises(ValueError, match=match):
    models.create_networks(config.model)


class _null:
  def __enter__(self):
    return self

  def __exit__(self, *args):
    return False


def test_each_inpainter_maps_other_checkpoints_onto_its_layout():
  # configs/test.py gives both the same base and encoder widths.
  vae, attention = _config('vae').model, _config('attention').model
  vae_nets = models.create_networks(vae)
  att_nets = models.create_networks(attention)
  plain, _ = models.init_params(jax.random.PRNGKey(0), vae_nets, 16)
  fresh, _ = models.init_params(jax.random.PRNGKey(1), att_nets, 16)
  export = {k: plain[k] for k in ('prior', 'generator')}  # no posterior
  # The plain model takes its own export back, posterior from the prior.
  same, notes = vae_nets.inpainter.init_from(export, plain)
  assert notes == ['the posterior starts as a copy of the prior']
  jax.tree_util.tree_map(np.testing.assert_array_equal, same['posterior'],
                         plain['prior'])
  # The attention model puts the plain G under its 'base'; the attention
  # layers keep their fresh values.
  moved, notes = att_nets.inpainter.init_from(export, fresh)
  assert any("'base'" in n for n in notes)
  jax.tree_util.tree_map(np.testing.assert_array_equal,
                         moved['generator']['base'], plain['generator'])
  for key in set(fresh['generator']) - {'base'}:
    jax.tree_util.tree_map(np.testing.assert_array_equal,
                           moved['generator'][key], fresh['generator'][key])
  chex.assert_trees_all_equal_shapes(moved, fresh)

"""Shapes and ranges of the networks; any H, W multiple of the factor."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import test as test_config
from vaegan_jax import models


@pytest.fixture(scope='module')
def nets_and_params():
  config = test_config.get_config()
  nets = models.create_networks(config.model)
  g_params, d_params = jax.jit(
      lambda k: models.init_params(k, nets, config.model, config.image_size))(
          jax.random.PRNGKey(0))
  return config, nets, g_params, d_params


@pytest.mark.parametrize('h,w', [(16, 16), (8, 24), (32, 12)])
def test_fully_convolutional(nets_and_params, h, w):
  config, nets, g_params, d_params = nets_and_params
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, h, w, 3), minval=-1)
  m = jnp.zeros((2, h, w, 1)).at[:, : h // 2].set(1.0)
  mean, logvar = nets.prior.apply({'params': g_params['prior']}, x, m)
  assert mean.shape == models.latent_shape(config.model, h, w, 2)
  assert logvar.shape == mean.shape
  out = models.complete(nets, g_params, x, m)
  assert out.shape == (2, h, w, 3)
  assert float(jnp.max(jnp.abs(out))) <= 1.0
  logits, feats = nets.discriminator.apply({'params': d_params}, x, m)
  f = 2 ** config.model.disc_layers
  assert logits.shape == (2, h // f, w // f, 1)
  assert len(feats) == config.model.disc_layers + 1


def test_prior_ignores_hole_pixels(nets_and_params):
  _, nets, g_params, _ = nets_and_params
  m = jnp.zeros((1, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
  a = jax.random.uniform(jax.random.PRNGKey(2), (1, 16, 16, 3))
  b = a.at[:, 4:12, 4:12].set(-1.0)   # differs only inside the hole
  np.testing.assert_array_equal(models.complete(nets, g_params, a, m),
                                models.complete(nets, g_params, b, m))


def test_noise_changes_output(nets_and_params):
  config, nets, g_params, _ = nets_and_params
  x = jnp.zeros((1, 16, 16, 3))
  m = jnp.ones((1, 16, 16, 1))
  eps = jax.random.normal(jax.random.PRNGKey(3),
                          models.latent_shape(config.model, 16, 16, 1))
  # The residual head starts at zero (output = pyramid fill), so perturb the
  # weights as training would.
  keys = iter(jax.random.split(jax.random.PRNGKey(4), 100))
  g_params = dict(g_params, generator=jax.tree_util.tree_map(
      lambda p: p + 0.05 * jax.random.normal(next(keys), p.shape),
      g_params['generator']))
  a = models.complete(nets, g_params, x, m)
  b = models.complete(nets, g_params, x, m, eps)
  assert float(jnp.max(jnp.abs(a - b))) > 1e-4


def test_bfloat16_params_stay_float32():
  config = test_config.get_config()
  config.model.dtype = 'bfloat16'
  nets = models.create_networks(config.model)
  g_params, _ = models.init_params(jax.random.PRNGKey(0), nets, config.model,
                                   16)
  assert {x.dtype for x in jax.tree_util.tree_leaves(g_params)} == {
      jnp.dtype('float32')}
  out = models.complete(nets, g_params, jnp.zeros((1, 16, 16, 3)),
                        jnp.ones((1, 16, 16, 1)))
  assert out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))
  with pytest.raises(ValueError, match='model.dtype'):
    models.dtype_from_name('float8')


def test_generator_shares_context_over_stacked_latents(nets_and_params):
  # k latents per image: the same output as repeating the image k times.
  config, nets, g_params, _ = nets_and_params
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3), minval=-1)
  m = jnp.zeros((2, 16, 16, 1)).at[:, 4:12].set(1.0)
  z = jax.random.normal(jax.random.PRNGKey(2),
                        models.latent_shape(config.model, 16, 16, 6))
  apply = lambda *a: nets.generator.apply({'params': g_params['generator']},
                                          *a)
  shared = apply(x, m, z)
  repeated = apply(jnp.concatenate([x] * 3), jnp.concatenate([m] * 3), z)
  np.testing.assert_allclose(shared, repeated, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match='multiple'):
    apply(x, m, z[:5])


@pytest.mark.parametrize('h,w', [(16, 16), (13, 21), (1, 5)])
def test_pyramid_fill(h, w):
  x = jax.random.uniform(jax.random.PRNGKey(5), (2, h, w, 3), minval=-1)
  m = (jax.random.uniform(jax.random.PRNGKey(6), (2, h, w, 1)) > 0.6
       ).astype(jnp.float32).at[0, 0, 0].set(0.0)
  fill = models.pyramid_fill(x * (1 - m), m)
  assert fill.shape == x.shape
  np.testing.assert_array_equal(fill * (1 - m), x * (1 - m))
  # Every fill is a weighted mean of visible pixels: inside their range.
  for i in range(2):
    visible = np.asarray(x[i])[np.asarray(m[i, ..., 0]) == 0]
    assert float(fill[i].min()) >= visible.min() - 1e-5
    assert float(fill[i].max()) <= visible.max() + 1e-5
  # A constant image is filled with that constant; a full mask with zeros.
  const = jnp.full((1, h, w, 3), 0.3)
  np.testing.assert_allclose(models.pyramid_fill(const * (1 - m[:1]), m[:1]),
                             const, atol=1e-6)
  np.testing.assert_array_equal(
      models.pyramid_fill(x, jnp.ones_like(m)), jnp.zeros_like(x))


def test_harmonic_fill_solves_laplace():
  # A linear ramp is harmonic: the fill of any hole recovers it.
  y, x = jnp.mgrid[:24, :24] / 23.0
  image = jnp.stack([x, y, 0.5 * x + 0.3 * y], -1)[None]
  m = jnp.zeros((1, 24, 24, 1)).at[:, 6:18, 4:14].set(1.0)
  far = models.pyramid_fill(image * (1 - m), m)
  fill = models.harmonic_fill(image * (1 - m), m, iterations=400)
  np.testing.assert_array_equal(fill * (1 - m), image * (1 - m))
  assert float(jnp.abs(fill - image).max()) < 0.01
  assert float(jnp.abs(far - image).max()) > 0.05


def test_generator_starts_at_the_fill(nets_and_params):
  config, nets, g_params, _ = nets_and_params
  assert config.model.initial_fill == 'harmonic'
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3), minval=-1)
  m = jnp.zeros((2, 16, 16, 1)).at[:, 4:12, 2:9].set(1.0)
  np.testing.assert_allclose(
      models.complete(nets, g_params, x, m),
      models.harmonic_fill(x * (1 - m), m, config.model.fill_iterations),
      atol=1e-6)
  config.model.initial_fill = 'magic'
  with pytest.raises(ValueError, match='initial_fill'):
    models.init_params(jax.random.PRNGKey(0), models.create_networks(
        config.model), config.model, 16)

"""docs/design.md's worked examples run as written: a new generator and a
new loss term, each in one place, train and meet the contract."""
import os
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from tests import conftest
from tests.conftest import batch_of
from vaegan_jax.configs import default
from vaegan_jax.configs import test as test_config
from vaegan_jax import models
from vaegan_jax.models import registry
from vaegan_jax.training import config_lib
from vaegan_jax.training import losses
from vaegan_jax.training import train_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _examples():
  with open(os.path.join(ROOT, 'docs', 'design.md')) as f:
    text = f.read()
  section = text[text.index('## Changing the model: worked examples'):]
  return re.findall(r'```python\n(.*?)```', section, re.S)


@pytest.mark.heavy
def test_new_generator_and_loss_term_from_the_docs(monkeypatch):
  # The examples register into these; restore them for the other tests.
  names = dict(models.REGISTRY)
  monkeypatch.setattr(registry, 'REGISTRY', names)  # register() adds here
  monkeypatch.setattr(models, 'REGISTRY', names)    # create_networks reads
  monkeypatch.setattr(losses, 'GENERATOR_TERMS', dict(losses.GENERATOR_TERMS))
  blocks = _examples()
  assert len(blocks) == 4, 'expected generator, config, loss, weight blocks'
  config = test_config.get_config()
  namespace = {'config': config, 'ml_collections': ml_collections}
  for block in blocks:
    exec(block, namespace)  # pylint: disable=exec-used
  assert config.model.inpainter == 'plain' and 'hole_colour' in (
      losses.GENERATOR_TERMS)
  # The docs put the config blocks in configs/default.py, whose keys every
  # config is checked against.
  edited = default.get_config()
  for block in (blocks[1], blocks[3]):
    exec(block, {'config': edited, 'ml_collections': ml_collections})  # pylint: disable=exec-used
  with pytest.raises(config_lib.ConfigError, match='Unknown config key'):
    config_lib.validate(config)
  monkeypatch.setattr(default, 'get_config', lambda: edited)
  config_lib.validate(config)

  # The contract: latents, k per image, the prior blind to hole pixels.
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  assert isinstance(nets.inpainter, namespace['PlainVAE'])
  assert set(state.g_params) == {'prior', 'posterior', 'generator'}
  gen, params = nets.inpainter, state.g_params
  m = jnp.zeros((2, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
  a = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3), minval=-1)
  b = a.at[:, 4:12, 4:12].set(0.5)
  z, mean, _ = gen.apply({'params': params}, a, m, method='encode')
  assert z.shape == mean.shape == gen.latent_shape(16, 16, 2) == (2, 8, 8, 4)
  out_a = gen.apply({'params': params}, a, m, method='complete')
  np.testing.assert_array_equal(
      out_a, gen.apply({'params': params}, b, m, method='complete'))
  z3 = jnp.concatenate([z] * 3)
  assert gen.apply({'params': params}, a, m, z3, method='decode').shape == (
      6, 16, 16, 3)

  # Two train steps: the new term is computed, logged and finite.
  d, g = conftest.single_device_steps(config, nets, g_tx, d_tx)
  batch = batch_of(config.batch_size, config.image_size)
  for _ in range(2):
    state, _ = d(state, batch)
    state, metrics = g(state, batch)
  assert int(state.step) == 2
  assert np.isfinite(float(metrics['hole_colour']))
  assert float(metrics['hole_colour']) > 0
  total = sum(config.loss.weights[t] * float(metrics[t])
              for t in losses.GENERATOR_TERMS if config.loss.weights[t])
  np.testing.assert_allclose(float(metrics['g_total']), total, rtol=1e-5)

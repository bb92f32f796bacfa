"""Every loss term against a value computed by hand on a tiny input."""
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaegan_jax.training import losses


def test_reconstruction_l1_and_mse_weights():
  pred = jnp.array([0.5, -0.5, 1.0, 0.0]).reshape(1, 2, 2, 1)
  target = jnp.zeros((1, 2, 2, 1))
  mask = jnp.array([1.0, 1.0, 0.0, 0.0]).reshape(1, 2, 2, 1)
  # hole: |0.5| + |-0.5| with weight 3; valid: |1| + |0| with weight 2.
  got = losses.reconstruction_loss(pred, target, mask, hole_weight=3.0,
                                   valid_weight=2.0, kind='l1')
  np.testing.assert_allclose(got, (3 * 1.0 + 2 * 1.0) / 4, rtol=1e-6)
  got = losses.reconstruction_loss(pred, target, mask, hole_weight=3.0,
                                   valid_weight=2.0, kind='mse')
  np.testing.assert_allclose(got, (3 * 0.5 + 2 * 1.0) / 4, rtol=1e-6)
  with pytest.raises(ValueError, match='recon_kind'):
    losses.reconstruction_loss(pred, target, mask, hole_weight=1.0,
                               valid_weight=1.0, kind='l3')


def test_masked_l1():
  pred = jnp.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
  region = jnp.array([1.0, 0.0, 0.0, 1.0]).reshape(1, 2, 2, 1)
  np.testing.assert_allclose(losses.masked_l1(pred, 0 * pred, region), 2.5)
  np.testing.assert_allclose(losses.masked_l1(pred, pred, region), 0.0)
  assert float(losses.masked_l1(pred, 0 * pred, 0 * region)) == 0.0


def test_kl_divergence_by_hand():
  zero = jnp.zeros((1, 1, 1, 1))
  np.testing.assert_allclose(losses.kl_divergence(zero, zero, zero, zero), 0)
  # KL(N(1, 1) || N(0, 1)) = 0.5.
  np.testing.assert_allclose(
      losses.kl_divergence(zero + 1, zero, zero, zero), 0.5, rtol=1e-6)
  # KL(N(0, 4) || N(0, 1)) = 0.5 * (4 - 1 - log 4).
  np.testing.assert_allclose(
      losses.kl_divergence(zero, zero + math.log(4.0), zero, zero),
      0.5 * (3 - math.log(4.0)), rtol=1e-6)
  # KL(N(0, 1) || N(2, e^2)) = 0.5 * (2 + (1 + 4) / e^2 - 1).
  np.testing.assert_allclose(
      losses.kl_divergence(zero, zero, zero + 2, zero + 2),
      0.5 * (2 + 5 * math.exp(-2) - 1), rtol=1e-6)


def test_feature_matching_averages_layers():
  real = [jnp.zeros((1, 2, 2, 1)), jnp.zeros((1, 1, 1, 4))]
  fake = [jnp.ones((1, 2, 2, 1)) * 2, jnp.ones((1, 1, 1, 4)) * -4]
  np.testing.assert_allclose(losses.feature_matching_loss(fake, real), 3.0)


def test_adversarial_losses_by_hand():
  zeros = jnp.zeros((2, 1, 1, 1))
  # Non-saturating = BCE on logits: at logit 0 every term is log 2.
  np.testing.assert_allclose(
      losses.discriminator_loss(zeros, zeros, 'nonsaturating'),
      2 * math.log(2), rtol=1e-6)
  np.testing.assert_allclose(
      losses.generator_adversarial_loss(zeros + 1, 'nonsaturating'),
      math.log1p(math.exp(-1)), rtol=1e-6)
  real = jnp.array([0.5, 2.0]).reshape(2, 1, 1, 1)
  fake = jnp.array([-2.0, 0.0]).reshape(2, 1, 1, 1)
  # hinge: mean(relu(1 - real)) + mean(relu(1 + fake)) = 0.25 + 0.5.
  np.testing.assert_allclose(losses.discriminator_loss(real, fake, 'hinge'),
                             0.75, rtol=1e-6)
  np.testing.assert_allclose(
      losses.generator_adversarial_loss(fake, 'hinge'), 1.0, rtol=1e-6)
  with pytest.raises(ValueError, match='adv_kind'):
    losses.discriminator_loss(real, fake, 'wasserstein')


def test_r1_penalty_linear_discriminator():
  x = jnp.ones((2, 3, 3, 2))
  # D(x) = 3 * sum(x): gradient 3 everywhere, ||grad||^2 = 9 * 18 per image.
  got = losses.r1_penalty(lambda v: 3.0 * jnp.sum(v, axis=(1, 2, 3)), x)
  np.testing.assert_allclose(got, 0.5 * 9 * 18, rtol=1e-6)
  chex.assert_shape(got, ())


def test_kl_free_bits():
  zero = jnp.zeros((2, 3, 3, 2))
  # Channel 0 has KL 0.5 per element, channel 1 has 0: free bits 0.2 lifts
  # channel 1 to 0.2 and leaves channel 0 alone.
  mean_q = zero.at[..., 0].set(1.0)
  np.testing.assert_allclose(
      losses.kl_divergence(mean_q, zero, zero, zero, free_bits=0.2), 0.35,
      rtol=1e-6)
  grad = jax.grad(lambda m: losses.kl_divergence(m, zero, zero, zero,
                                                 free_bits=0.2))(mean_q)
  assert float(jnp.abs(grad[..., 1]).max()) == 0.0
  assert float(jnp.abs(grad[..., 0]).min()) > 0.0

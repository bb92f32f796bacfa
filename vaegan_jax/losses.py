"""Loss terms of the VAE-GAN, named as in Larsen et al. (2016) and PIC.

All functions are pure and reduce to a scalar mean, so values do not depend
on the batch split across devices (a pmean of per-device means is the global
mean when every device holds the same number of examples).
"""
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

ADV_KINDS = ('nonsaturating', 'hinge')


def reconstruction_loss(pred, target, mask, *, hole_weight: float,
                        valid_weight: float, kind: str = 'l1'):
  """Pixel reconstruction with separate hole / valid weights.

  Args:
    pred, target: [N, H, W, C] images (same range).
    mask: [N, H, W, 1], 1 = hole.
    hole_weight, valid_weight: per-pixel weights inside / outside the hole.
    kind: 'l1' (absolute error) or 'mse' (squared error, as in the seed).
  Returns:
    mean over all elements of weight * error.
  """
  diff = pred - target
  if kind == 'l1':
    err = jnp.abs(diff)
  elif kind == 'mse':
    err = jnp.square(diff)
  else:
    raise ValueError(f"loss.recon_kind must be 'l1' or 'mse'; got {kind!r}")
  weight = hole_weight * mask + valid_weight * (1.0 - mask)
  return jnp.mean(weight * err)


def masked_l1(pred, target, region):
  """Mean |pred - target| over pixels where region == 1 (0 if empty)."""
  region = jnp.broadcast_to(region, pred.shape)
  total = jnp.sum(jnp.abs(pred - target) * region)
  return total / jnp.maximum(jnp.sum(region), 1.0)


def kl_divergence(mean_q, logvar_q, mean_p, logvar_p, free_bits: float = 0.0):
  """KL(q || p) of diagonal Gaussians, averaged over latent elements.

  With free_bits > 0 each latent channel's KL (nats per element, averaged
  over batch and positions) counts as at least free_bits ("free bits",
  Kingma et al. 2016): below it the KL has no gradient, so the posterior may
  carry that much information about the hole instead of collapsing onto the
  prior, which keeps prior samples diverse.
  """
  kl = 0.5 * (logvar_p - logvar_q
              + (jnp.exp(logvar_q) + jnp.square(mean_q - mean_p))
              * jnp.exp(-logvar_p) - 1.0)
  if free_bits > 0:
    per_channel = jnp.mean(kl.reshape(-1, kl.shape[-1]), axis=0)
    return jnp.mean(jnp.maximum(per_channel, free_bits))
  return jnp.mean(kl)


def feature_matching_loss(fake_features: Sequence[jax.Array],
                          real_features: Sequence[jax.Array]):
  """Learned similarity L_llike^{Dis_l}: mean L1 over discriminator layers."""
  terms = [jnp.mean(jnp.abs(f - r))
           for f, r in zip(fake_features, real_features)]
  return sum(terms) / len(terms)


def discriminator_loss(real_logits, fake_logits, kind: str):
  """D's side of L_GAN: real -> 1, fake -> 0.

  'nonsaturating' is binary cross-entropy on logits (the seed's BCELoss);
  'hinge' is the SN-PatchGAN / DeepFill v2 form.
  """
  if kind == 'nonsaturating':
    return (jnp.mean(jax.nn.softplus(-real_logits))
            + jnp.mean(jax.nn.softplus(fake_logits)))
  if kind == 'hinge':
    return (jnp.mean(jax.nn.relu(1.0 - real_logits))
            + jnp.mean(jax.nn.relu(1.0 + fake_logits)))
  raise ValueError(f'loss.adv_kind must be one of {ADV_KINDS}; got {kind!r}')


def generator_adversarial_loss(fake_logits, kind: str):
  """G's side of L_GAN (non-saturating: -log D(G(z)))."""
  if kind == 'nonsaturating':
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if kind == 'hinge':
    return -jnp.mean(fake_logits)
  raise ValueError(f'loss.adv_kind must be one of {ADV_KINDS}; got {kind!r}')


def r1_penalty(logits_fn: Callable[[jax.Array], jax.Array], real_images):
  """R1 = 0.5 * E[ ||d D(x) / d x||^2 ] on real images (Mescheder 2018)."""
  grads = jax.grad(lambda x: jnp.sum(logits_fn(x)))(real_images)
  return 0.5 * jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))

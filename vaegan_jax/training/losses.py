"""Loss terms of the VAE-GAN, named as in Larsen et al. (2016) and PIC.

The primitives first; then the tables of named terms that the two train
steps sum (GENERATOR_TERMS, DISCRIMINATOR_TERMS).

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
    kind: 'l1' (absolute error) or 'mse' (squared error, the VAE's Gaussian
      likelihood).
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

  'nonsaturating' is binary cross-entropy on logits (a GAN's BCE loss);
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


# Losses as data.  Each term is a function (forward, loss_config) -> scalar
# of the step's forward pass, registered under its name; a step's total is
# the weighted sum of its terms, with weights config.loss.weights.<name>.
# A new term is one function here plus one weight in configs/default.py;
# config_lib.validate checks that every term has a weight and vice versa.
GENERATOR_TERMS = {}      # the VAE-generator step (encoders + G)
DISCRIMINATOR_TERMS = {}  # the discriminator step


def generator_term(fn):
  """Registers fn(forward, loss_config) as the generator-step term fn.__name__.

  `forward` holds image, mask ([-1, 1], 1 = hole), x_rec = G(z_q),
  x_p = G(stop_gradient(z_p)), the latents' mean_q, logvar_q, mean_p,
  logvar_p, D's logits on the fakes (fake_logits) and D's features of the
  reconstruction and of the real image (rec_feats, real_feats).
  """
  GENERATOR_TERMS[fn.__name__] = fn
  return fn


def discriminator_term(fn):
  """Registers fn(forward, loss_config) as a discriminator-step term.

  `forward` holds image, mask, real_logits, fake_logits and logits_fn
  (real image -> D's logits, for gradient penalties).
  """
  DISCRIMINATOR_TERMS[fn.__name__] = fn
  return fn


@generator_term
def recon(f, lc):
  """L_recon: pixel loss of the reconstruction, hole and valid weighted."""
  return reconstruction_loss(f['x_rec'], f['image'], f['mask'],
                             hole_weight=lc.hole_weight,
                             valid_weight=lc.valid_weight, kind=lc.recon_kind)


@generator_term
def kl(f, lc):
  """KL(q || p) as optimised: after free bits (`kl_raw` is logged too)."""
  return kl_divergence(f['mean_q'], f['logvar_q'], f['mean_p'], f['logvar_p'],
                       free_bits=lc.kl_free_bits)


@generator_term
def feature(f, lc):
  """L_llike^{Dis_l}: D's features of x_rec against the real image's."""
  del lc
  return feature_matching_loss(f['rec_feats'], f['real_feats'])


@generator_term
def g_adv(f, lc):
  """G's side of L_GAN on the composited fakes."""
  return generator_adversarial_loss(f['fake_logits'], lc.adv_kind)


@generator_term
def prior_valid(f, lc):
  """L1 of the prior sample x_p on the visible pixels."""
  del lc
  return masked_l1(f['x_p'], f['image'], 1.0 - f['mask'])


@generator_term
def prior_hole(f, lc):
  """L1 of the prior sample x_p in the hole (reaches G only)."""
  del lc
  return masked_l1(f['x_p'], f['image'], f['mask'])


@discriminator_term
def d_adv(f, lc):
  """D's side of L_GAN: real -> 1, composited fakes -> 0."""
  return discriminator_loss(f['real_logits'], f['fake_logits'], lc.adv_kind)


@discriminator_term
def r1(f, lc):
  """R1 gradient penalty on real images."""
  del lc
  return r1_penalty(f['logits_fn'], f['image'])


def weighted_terms(table, forward, loss_config):
  """-> (total, terms): every term of `table` with a non-zero weight.

  A zero weight skips the term's computation (R1's double backward).
  """
  terms = {name: fn(forward, loss_config) for name, fn in table.items()
           if loss_config.weights[name]}
  total = sum(loss_config.weights[name] * value
              for name, value in terms.items())
  return total, terms

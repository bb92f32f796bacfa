"""Training state and the two VAE-GAN train steps.

One training iteration is `d_step` then `g_step`, each a pure function
(state, batch) -> (state, metrics), pmapped over local devices with axis name
'batch' and `lax.pmean` of gradients and metrics.

Which loss updates which network (Larsen et al. 2016; docs/design.md,
"Losses and gradient routing"):
  encoders (prior, posterior) <- KL(q || p) + L_recon + L_llike^{Dis_l}
  generator                   <- L_recon + L_llike^{Dis_l} + L_GAN + L1(x_p)
  discriminator               <- L_GAN (+ R1) only
The prior sample z_p is stop-gradient'ed before G, so L_GAN never reaches an
encoder; the G step never changes D's parameters.  Each step's loss is the
weighted sum of the named terms in losses.py (config.loss.weights).

Randomness is keyed by (seed, step, global example index): the same global
batch gives the same update on 1 or 8 devices, and a resumed run draws the
same noise as an uninterrupted one.  A step whose loss or gradient is not
finite keeps the old weights (faults.keep_if_finite).  The loop that drives
the steps is train_loop.train.
"""
import functools
from typing import Any, Dict, Optional

import flax
import jax
from jax import lax
import jax.numpy as jnp
import optax

from vaegan_jax import models
from vaegan_jax.training import faults
from vaegan_jax.training import losses
from vaegan_jax.training import optim

AXIS = 'batch'


@flax.struct.dataclass
class TrainState:
  step: jax.Array          # int32 scalar: completed training iterations.
  g_params: Any            # {'prior', 'posterior', 'generator'}
  d_params: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Any          # EMA of g_params, used for inference.
  rng: jax.Array           # base PRNG key; per-step keys are folded in.


def create_train_state(config, rng):
  """Returns (nets, g_tx, d_tx, state) with freshly initialised params."""
  nets = models.create_networks(config.model)
  g_tx = optim.make_optimizer(config.optim.g_lr, config.optim, config.num_steps)
  d_tx = optim.make_optimizer(config.optim.d_lr, config.optim, config.num_steps)

  @jax.jit
  def init(rng):
    init_rng, state_rng = jax.random.split(rng)
    g_params, d_params = models.init_params(init_rng, nets,
                                            config.image_size)
    return TrainState(
        step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
        g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params),
        ema_params=jax.tree_util.tree_map(jnp.copy, g_params), rng=state_rng)

  return nets, g_tx, d_tx, init(rng)


def _example_noise(key, batch: int, shape, axis_name: Optional[str]):
  """Standard-normal noise [batch, *shape] keyed by global example index."""
  offset = lax.axis_index(axis_name) * batch if axis_name else 0
  index = offset + jnp.arange(batch)
  return jax.vmap(
      lambda i: jax.random.normal(jax.random.fold_in(key, i), shape))(index)


def _step_key(state: TrainState, tag: int):
  return jax.random.fold_in(jax.random.fold_in(state.rng, state.step), tag)


def _to_model_range(batch):
  return batch['image'] * 2.0 - 1.0, batch['mask']


def composite(output, image, mask):
  """Generated pixels in the hole, real pixels elsewhere."""
  return output * mask + image * (1.0 - mask)


def _apply(nets, g_params, method, *args, **kwargs):
  return nets.inpainter.apply({'params': g_params}, *args, method=method,
                              **kwargs)


def encode_and_sample(nets, g_params, image, mask, key, axis_name):
  """Both encoders: z_q ~ q(z | image), z_p ~ p(z | visible), and stats."""
  kq, kp = jax.random.split(key)
  shape = nets.inpainter.latent_shape(image.shape[1], image.shape[2],
                                      image.shape[0])
  noise_q = _example_noise(kq, shape[0], shape[1:], axis_name)
  noise_p = _example_noise(kp, shape[0], shape[1:], axis_name)
  z_q, mean_q, logvar_q = _apply(nets, g_params, 'encode', image, mask,
                                 noise_q, posterior=True)
  z_p, mean_p, logvar_p = _apply(nets, g_params, 'encode', image, mask,
                                 noise_p)
  return dict(mean_q=mean_q, logvar_q=logvar_q, mean_p=mean_p,
              logvar_p=logvar_p, z_q=z_q, z_p=z_p)


def _decode(nets, g_params, image, mask, zs):
  """One decode of the latents `zs` stacked along the batch -> a list."""
  out = _apply(nets, g_params, 'decode', image, mask, jnp.concatenate(zs))
  return jnp.split(out, len(zs))


def discriminator_losses(d_params, g_params, image, mask, key, *, nets,
                         loss_config, axis_name=AXIS):
  """D's step losses on real vs composited fakes: (total, named terms)."""
  lat = jax.lax.stop_gradient(
      encode_and_sample(nets, g_params, image, mask, key, axis_name))
  zs = [lat['z_p']] + ([lat['z_q']] if loss_config.adv_on_recon else [])
  fakes = [composite(x, image, mask)
           for x in _decode(nets, g_params, image, mask, zs)]
  fakes = jax.lax.stop_gradient(jnp.concatenate(fakes))

  def logits_fn(x, m):
    return nets.discriminator.apply({'params': d_params}, x, m)[0]

  forward = dict(image=image, mask=mask, real_logits=logits_fn(image, mask),
                 fake_logits=logits_fn(fakes,
                                       jnp.concatenate([mask] * len(zs))),
                 logits_fn=lambda x: logits_fn(x, mask))
  total, terms = losses.weighted_terms(losses.DISCRIMINATOR_TERMS, forward,
                                       loss_config)
  terms['d_real_logit'] = jnp.mean(forward['real_logits'])
  terms['d_fake_logit'] = jnp.mean(forward['fake_logits'])
  return total, terms


def generator_forward(g_params, d_params, image, mask, key, *, nets,
                      loss_config, axis_name=AXIS):
  """Everything the generator-step terms read (losses.generator_term).

  x_rec = G(z_q) is the reconstructive path (pixel, KL, Dis_l losses);
  x_p = G(stop_gradient(z_p)) is the generative path (adversarial, plus L1
  terms): the encoders receive no GAN gradient.
  """
  lat = encode_and_sample(nets, g_params, image, mask, key, axis_name)
  zs = [lat['z_q'], jax.lax.stop_gradient(lat['z_p'])]
  if loss_config.adv_on_recon:
    zs.append(jax.lax.stop_gradient(lat['z_q']))
  outs = _decode(nets, g_params, image, mask, zs)

  def disc(x):
    k = x.shape[0] // mask.shape[0]
    return nets.discriminator.apply({'params': d_params}, x,
                                    jnp.concatenate([mask] * k))

  _, real_feats = disc(image)
  logits, feats = disc(jnp.concatenate([composite(x, image, mask)
                                        for x in outs]))
  n = image.shape[0]
  return dict(lat, image=image, mask=mask, x_rec=outs[0], x_p=outs[1],
              rec_feats=[f[:n] for f in feats],
              real_feats=jax.lax.stop_gradient(real_feats),
              fake_logits=logits[n:])


def generator_losses(g_params, d_params, image, mask, key, *, nets,
                     loss_config, axis_name=AXIS):
  """Encoder + generator losses: (total, named terms and diagnostics)."""
  forward = generator_forward(g_params, d_params, image, mask, key, nets=nets,
                              loss_config=loss_config, axis_name=axis_name)
  total, terms = losses.weighted_terms(losses.GENERATOR_TERMS, forward,
                                       loss_config)
  # Diagnostics (no gradient); hole L1 in [0, 1] units.
  f = jax.lax.stop_gradient(forward)
  terms['kl_raw'] = losses.kl_divergence(f['mean_q'], f['logvar_q'],
                                         f['mean_p'], f['logvar_p'])
  terms['hole_l1'] = 0.5 * losses.masked_l1(f['x_rec'], image, mask)
  terms['hole_l1_prior'] = 0.5 * losses.masked_l1(f['x_p'], image, mask)
  return total, terms


def _pmean(tree, axis_name):
  return lax.pmean(tree, axis_name) if axis_name else tree


def _update(prefix: str, loss_fn, params, tx, opt_state, axis_name):
  """The update both steps share: grad of `loss_fn`, averaged over devices,
  one optimizer step, and the metrics with the total and the gradient norm.

  Returns (params, opt_state, ok, metrics); ok is False where the loss or
  the gradient is not finite (metrics[prefix + '_skipped'] = 1).  Both are
  pmean'd first, so every device takes the same decision.
  """
  (total, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  grads = _pmean(grads, axis_name)
  updates, opt_state = tx.update(grads, opt_state, params)
  metrics = _pmean(dict(terms, **{f'{prefix}_total': total,
                                  f'{prefix}_grad_norm': optax.tree.norm(
                                      grads)}), axis_name)
  ok = faults.update_is_finite(metrics[f'{prefix}_total'],
                               metrics[f'{prefix}_grad_norm'])
  metrics[f'{prefix}_skipped'] = 1.0 - ok.astype(jnp.float32)
  return optax.apply_updates(params, updates), opt_state, ok, metrics


def d_step(state: TrainState, batch, *, nets, d_tx, loss_config,
           axis_name: Optional[str] = AXIS):
  """Discriminator update: D <- grad of L_GAN (+ R1).  G is untouched."""
  image, mask = _to_model_range(batch)
  loss = functools.partial(
      discriminator_losses, g_params=state.g_params, image=image, mask=mask,
      key=_step_key(state, 0), nets=nets, loss_config=loss_config,
      axis_name=axis_name)
  d_params, d_opt_state, ok, metrics = _update(
      'd', loss, state.d_params, d_tx, state.d_opt_state, axis_name)
  new_state = state.replace(d_params=d_params, d_opt_state=d_opt_state)
  return faults.keep_if_finite(ok, new_state, state), metrics


def g_step(state: TrainState, batch, *, nets, g_tx, loss_config,
           ema_decay: float, axis_name: Optional[str] = AXIS):
  """Encoder + generator update, then EMA; advances `state.step`.

  A non-finite loss or gradient leaves the weights, optimizer state and EMA
  unchanged and sets metrics['g_skipped'] to 1 (d_step: 'd_skipped').
  """
  image, mask = _to_model_range(batch)
  loss = functools.partial(
      generator_losses, d_params=state.d_params, image=image, mask=mask,
      key=_step_key(state, 1), nets=nets, loss_config=loss_config,
      axis_name=axis_name)
  g_params, g_opt_state, ok, metrics = _update(
      'g', loss, state.g_params, g_tx, state.g_opt_state, axis_name)
  # EMA warmup: early on the average follows the weights closely, so short
  # runs do not carry a sizeable share of the random initialisation.
  step = state.step.astype(jnp.float32)
  decay = jnp.minimum(ema_decay, (1.0 + step) / (10.0 + step))
  ema = optax.incremental_update(g_params, state.ema_params,
                                 step_size=1.0 - decay)
  new_state = state.replace(g_params=g_params, g_opt_state=g_opt_state,
                            ema_params=ema)
  # A skipped iteration still counts: data and noise stay keyed by step.
  new_state = faults.keep_if_finite(ok, new_state, state)
  return new_state.replace(step=state.step + 1), metrics


def make_pmapped_steps(config, nets, g_tx, d_tx):
  """Returns (p_d_step, p_g_step), each jitted + pmapped over 'batch'."""
  p_d_step = jax.pmap(
      functools.partial(d_step, nets=nets, d_tx=d_tx,
                        loss_config=config.loss, axis_name=AXIS),
      axis_name=AXIS, donate_argnums=(0,))
  p_g_step = jax.pmap(
      functools.partial(g_step, nets=nets, g_tx=g_tx,
                        loss_config=config.loss,
                        ema_decay=config.optim.ema_decay, axis_name=AXIS),
      axis_name=AXIS, donate_argnums=(0,))
  return p_d_step, p_g_step


def sample_images(nets, params, batch, eps=None) -> Dict[str, jax.Array]:
  """Inpaints `batch` (images in [0, 1]) with the prior mean; for grids."""
  image, mask = _to_model_range(batch)
  out = _apply(nets, params, 'complete', image, mask, eps)
  done = composite(out, image, mask)
  return {'masked': (image * (1 - mask) + mask * 1.0 + 1) / 2,
          'output': (done + 1) / 2, 'truth': (image + 1) / 2}

"""The networks, chosen by name: `config.model.inpainter` / `.discriminator`.

Conventions: images are float in [-1, 1], NHWC; masks are float {0, 1} with
1 = missing pixel, shape [N, H, W, 1].

Registered networks (`REGISTRY`), each built from its own sub-config
`config.model.<name>` passed as keyword arguments (`create_networks`):
* 'vae' (`VAEInpainter`): the VAE-GAN's inpainter, a conditional prior
  p(z | visible pixels), a posterior q(z | complete image) and G(z, visible
  region), with `encode` / `decode` / `complete`.
* 'patch' (`PatchDiscriminator`): logits per patch and the intermediate
  features used by Larsen's learned similarity (Dis_l).

THE GENERATOR CONTRACT.  A generator is a linen Module whose parameters are
the dict {'prior', 'posterior', 'generator'} of its sub-networks (the keys of
every checkpoint), with:
  encode(image, mask, noise=None, *, posterior=False) -> (z, mean, logvar)
      image [N, H, W, 3] in [-1, 1], mask [N, H, W, 1].  The prior reads
      only the visible pixels (hole pixels never change its output); the
      posterior reads the whole image.  z = mean + exp(logvar / 2) * noise,
      or the mean when noise is None.  All three have `latent_shape`.
  decode(image, mask, z) -> [k * N, H, W, 3], roughly [-1, 1], raw: not
      composited and not clipped (the losses see the raw output).  Hole
      pixels of `image` must not matter.  z may hold k latents per image,
      stacked along the batch ([k * N, ...]: latent j of image i at
      j * N + i), so that the image is encoded once for k latents.
  complete(image, mask, noise=None, *, fidelity=False) -> [N, H, W, 3] in
      [-1, 1]: the prior mean (or a sample) decoded and clipped; not
      composited.  decode and complete take `fidelity`: True asks for the
      output best under PSNR / SSIM, which a generator with sampled
      texture gives without it; others ignore the flag.
  __call__(image, mask): touches every sub-network (used by `init`).
  latent_shape(height, width, batch) -> shape of z (no parameters needed).
  size_multiple: H and W of every input must be multiples of it.
A discriminator is a Module with __call__(image, mask) -> (logits, features)
and `size_multiple`.  tests/models/test_inpainters.py checks the contract of every
registered network.  A new generator: one class (subclass `LatentInpainter`
and define its three sub-networks in `setup`), `@register('name')`, and its
sub-config in configs/default.py; docs/design.md has a worked example.

Upsampling is nearest-resize + conv: no checkerboard artifacts, and XLA:CPU
runs it far faster than ConvTranspose.
"""
import dataclasses
from typing import List, NamedTuple, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from vaegan_jax.models import contextual_attention as ca
from vaegan_jax.models import discriminators  # registers 'patch', 'multiscale'
from vaegan_jax.models import fills
from vaegan_jax.models.layers import (Generator, Dtype, Encoder, ResBlock, act,
                                      repeat_for_latents, upsample2x)
from vaegan_jax.models.registry import build, register

INITIAL_FILLS = ('harmonic', 'pyramid', 'none')


def dtype_from_name(name: str) -> Dtype:
  """Maps 'float32' / 'bfloat16' / 'float16' to a jnp dtype."""
  try:
    return {'float32': jnp.float32, 'bfloat16': jnp.bfloat16,
            'float16': jnp.float16}[name]
  except KeyError:
    raise ValueError(f'model.dtype must be float32, bfloat16 or float16; '
                     f'got {name!r}') from None


class LatentInpainter(nn.Module):
  """The generator contract's methods, for any prior / posterior / generator.

  A subclass defines `setup` with the three sub-networks (attributes
  `prior`, `posterior`: (image, mask) -> (mean, logvar); `generator`:
  (masked image, mask, z) -> image, z with k latents per image), and the
  attributes `num_down` (z is at 1 / 2**num_down resolution) and
  `latent_channels`.
  """

  @property
  def size_multiple(self) -> int:
    return 2 ** self.num_down

  def encoder_kwargs(self):
    """The prior's and the posterior's `Encoder` arguments (one network)."""
    return dict(channels=self.encoder_channels,
                max_channels=self.max_channels, num_down=self.num_down,
                latent_channels=self.latent_channels, dtype=self.dtype)

  def latent_shape(self, height: int, width: int, batch: int):
    f = self.size_multiple
    return (batch, height // f, width // f, self.latent_channels)

  def encode(self, image, mask, noise=None, *, posterior: bool = False):
    """-> (z, mean, logvar) from the prior (default) or the posterior."""
    if posterior:
      mean, logvar = self.posterior(image, mask)
    else:
      mean, logvar = self.prior(image * (1.0 - mask), mask)
    z = mean if noise is None else mean + jnp.exp(0.5 * logvar) * noise
    return z, mean, logvar

  def decode(self, image, mask, z, *, fidelity: bool = False):
    """G(z, visible pixels) -> raw [k * N, H, W, 3] for k latents per image.

    fidelity: G's estimate for distortion metrics where it has one apart
    from its texture (`AttentionGenerator`); others ignore it.
    """
    del fidelity
    return self.generator(image * (1.0 - mask), mask, z)

  def complete(self, image, mask, noise=None, *, fidelity: bool = False):
    """Prior mean (noise None) or sample, decoded and clipped to [-1, 1]."""
    z, _, _ = self.encode(image, mask, noise)
    return jnp.clip(self.decode(image, mask, z, fidelity=fidelity),
                    -1.0, 1.0)

  def __call__(self, image, mask):
    self.encode(image, mask)
    z, _, _ = self.encode(image, mask, posterior=True)
    return self.decode(image, mask, z)

  def init_from(self, source: dict, fresh: dict) -> Tuple[dict, List[str]]:
    """Another checkpoint's inpainter weights in this model's layout.

    Args:
      source: {'prior', 'generator'[, 'posterior']} of a workdir or an export
        (an export has no posterior).
      fresh: this model's initialised weights, for the parts `source` lacks.
    Returns:
      (weights, notes): notes say in words what did not come from `source`.
    """
    del fresh  # every part comes from the source
    weights, notes = dict(source), []
    if 'posterior' not in weights:
      weights['posterior'] = weights['prior']  # the same network
      notes.append('the posterior starts as a copy of the prior')
    return weights, notes


@register('vae')
class VAEInpainter(LatentInpainter):
  """The generator side of the VAE-GAN (see the contract above).

  Attributes:
    base_channels: G's width at full resolution; doubles per downsampling.
    encoder_channels: the encoders' first width.
    max_channels: cap on every width.
    num_down: downsamplings; z is at 1 / 2**num_down resolution.
    latent_channels: channels of z.
    dilations, initial_fill, fill_iterations, residual_gate: of `Generator`.
  """
  base_channels: int
  encoder_channels: int
  max_channels: int
  num_down: int
  latent_channels: int
  dilations: Sequence[int]
  initial_fill: str
  fill_iterations: int
  residual_gate: bool
  dtype: Dtype = jnp.float32

  def __post_init__(self):
    if self.initial_fill not in INITIAL_FILLS:
      raise ValueError(f'initial_fill must be one of {INITIAL_FILLS}; got '
                       f'{self.initial_fill!r}')
    if self.num_down < 0 or self.fill_iterations < 0:
      raise ValueError('num_down and fill_iterations must be >= 0.')
    super().__post_init__()

  def setup(self):
    # The attribute names are the checkpoint keys.
    self.prior = Encoder(**self.encoder_kwargs())
    self.posterior = Encoder(**self.encoder_kwargs())
    self.generator = Generator(
        channels=self.base_channels, max_channels=self.max_channels,
        num_down=self.num_down, dilations=tuple(self.dilations),
        initial_fill=self.initial_fill, fill_iterations=self.fill_iterations,
        residual_gate=self.residual_gate, dtype=self.dtype)


class AttentionSettings(nn.Module):
  """The attention G's hyperparameters, declared once for `AttentionGenerator`
  and `AttentionInpainter` (which passes them on).

  Attributes:
    base_channels, max_channels, num_down, dilations, fill_iterations,
      residual_gate: of the base `Generator` (its initial fill is harmonic).
    attention_channels: width of the attention features.
    attention_stride: s, a power of two <= 2**num_down; cells of s x s
      pixels, copied as 2s x 2s windows.
    band_sigma: Gaussian sigma (pixels) splitting fill and copied detail;
      the largest one when band_scale > 0.
    band_scale: > 0: per image, sigma = band_scale * the holes' width
      (`contextual_attention.hole_width`), at most band_sigma; 0: fixed.
    softmax_scale: similarity scale of the choice (sets the gradients).
    num_offsets: candidate translations per image
      (`contextual_attention.copy_band`).
    window: cells over which a choice of offset is agreed.
    min_distance: candidates at least this many cells apart (0: any).
    blend: 'linear' or 'energy' (variance-preserving) between cells.
  """
  base_channels: int
  max_channels: int
  num_down: int
  dilations: Sequence[int]
  fill_iterations: int
  residual_gate: bool
  attention_channels: int
  attention_stride: int
  band_sigma: float
  softmax_scale: float
  num_offsets: int
  window: int
  min_distance: int
  blend: str
  band_scale: float

  def settings(self) -> dict:
    """This module's AttentionSettings fields, by name."""
    return {f.name: getattr(self, f.name)
            for f in dataclasses.fields(AttentionSettings)
            if f.name not in ('parent', 'name')}


class AttentionGenerator(AttentionSettings):
  """G(z, masked image, mask): `Generator`'s fill + residual, plus texture
  copied from the visible region (contextual attention, DeepFill).

  Output = Generator(fill) + hole * copy(band): `band` is the fill minus its
  Gaussian blur (sigma `band_sigma`): the visible region's detail above the
  fill's frequencies.  Attention features at 1/`attention_stride` of the
  image, computed from the fill, the mask and z, choose for every hole cell
  the visible region to copy (`contextual_attention.copy_band`), so z
  changes the texture and the copy carries the photo's own grain.  The band is added
  ungated: the reconstruction losses can move where texture is copied from
  but cannot trade it for blur.
  """
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, masked_image, mask, z, texture: bool = True):
    fill = fills.harmonic_fill(masked_image, mask, self.fill_iterations)
    base = Generator(self.base_channels, self.max_channels, self.num_down,
                   tuple(self.dilations), 'harmonic', self.fill_iterations,
                   self.residual_gate, self.dtype, name='base')(
                       masked_image, mask, z, fill=fill)
    if not texture:
      return base
    width = self.attention_channels
    h = jnp.concatenate([fill, mask], axis=-1).astype(self.dtype)
    h = act(nn.Conv(width, (3, 3), dtype=self.dtype)(h))
    s = 1
    while s < self.attention_stride:
      h = act(nn.Conv(width, (3, 3), strides=(2, 2), dtype=self.dtype)(h))
      s *= 2
    zs = z.astype(self.dtype)
    while zs.shape[1] < h.shape[1]:
      zs = upsample2x(zs)
    h = jnp.concatenate([repeat_for_latents(h, z), zs], axis=-1)
    h = act(nn.Conv(width, (3, 3), dtype=self.dtype)(h))
    h = ResBlock(width, dilation=2, dtype=self.dtype)(h)
    features = nn.Conv(width, (3, 3), dtype=jnp.float32)(
        act(h).astype(jnp.float32))
    if self.band_scale > 0:  # Thin holes keep more of the fill's structure.
      sigma = self.band_scale * ca.hole_width(mask)
      band = ca.detail_band(fill, sigma, self.band_sigma)
    else:
      band = fill - ca.gaussian_blur(fill, self.band_sigma)
    m = repeat_for_latents(mask, z)
    pasted = ca.copy_band(features, m, repeat_for_latents(band, z), stride=s,
                          num_offsets=self.num_offsets, window=self.window,
                          scale=self.softmax_scale,
                          min_distance=self.min_distance, blend=self.blend)
    return base + m * pasted


@register('attention')
class AttentionInpainter(LatentInpainter, AttentionSettings):
  """The VAE-GAN's inpainter with an `AttentionGenerator` as G.

  Attributes: those of `AttentionSettings`, plus the encoders'
  (`VAEInpainter`): encoder_channels, latent_channels.
  """
  encoder_channels: int
  latent_channels: int
  dtype: Dtype = jnp.float32

  def __post_init__(self):
    s = self.attention_stride
    if s < 2 or s & (s - 1) or s > 2 ** self.num_down:
      raise ValueError(f'attention_stride must be a power of two in [2, '
                       f'2**num_down={2 ** self.num_down}]; got {s}')
    if (self.band_sigma <= 0 or self.num_offsets < 1 or self.window < 1
        or self.fill_iterations < 0 or self.min_distance < 0
        or self.band_scale < 0):
      raise ValueError('band_sigma must be > 0, num_offsets and window >= 1, '
                       'fill_iterations, min_distance, band_scale >= 0.')
    if self.blend not in ca.BLENDS:
      raise ValueError(f'blend must be one of {ca.BLENDS}; got '
                       f'{self.blend!r}')
    super().__post_init__()

  def setup(self):
    # The attribute names are the checkpoint keys.
    self.prior = Encoder(**self.encoder_kwargs())
    self.posterior = Encoder(**self.encoder_kwargs())
    self.generator = AttentionGenerator(**self.settings(), dtype=self.dtype)

  def decode(self, image, mask, z, *, fidelity: bool = False):
    """As `LatentInpainter.decode`; fidelity=True leaves out the copied
    texture: the base fill, G's estimate for PSNR and SSIM."""
    return self.generator(image * (1.0 - mask), mask, z,
                          texture=not fidelity)

  def init_from(self, source: dict, fresh: dict) -> Tuple[dict, List[str]]:
    """As `LatentInpainter.init_from`; a plain 'vae' G is this G's base."""
    weights, notes = super().init_from(source, fresh)
    if 'base' not in weights['generator']:
      # The attention layers start as initialised.
      weights['generator'] = dict(fresh['generator'],
                                  base=weights['generator'])
      notes.append("its generator starts this generator's 'base'; the "
                   'attention layers start fresh')
    return weights, notes


class Networks(NamedTuple):
  inpainter: nn.Module      # the inpainter contract (module docstring)
  discriminator: nn.Module


def create_networks(model_config) -> Networks:
  """Builds `model_config.generator` and `.discriminator` by name."""
  dtype = dtype_from_name(model_config.dtype)
  return Networks(inpainter=build(model_config, 'inpainter', dtype),
                  discriminator=build(model_config, 'discriminator', dtype))


def size_multiple(nets: Networks) -> int:
  """H and W of every training image must be multiples of this."""
  return max(nets.inpainter.size_multiple, nets.discriminator.size_multiple)


def init_params(rng, nets: Networks, image_size: int):
  """Returns (g_params, d_params); g_params = {prior, posterior, generator}."""
  kg, kd = jax.random.split(rng)
  x = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  m = jnp.zeros((1, image_size, image_size, 1), jnp.float32)
  g_params = nets.inpainter.init(kg, x, m)['params']
  d_params = nets.discriminator.init(kd, x, m)['params']
  return g_params, d_params

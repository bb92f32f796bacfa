"""VAE-GAN networks for inpainting (Flax linen, pure functional, no BatchNorm).

Conventions: images are float in [-1, 1], NHWC; masks are float {0, 1} with
1 = missing pixel, shape [N, H, W, 1].  The latent z is spatial:
[N, H / 2**num_down, W / 2**num_down, latent_channels].

* `Encoder` is used twice with separate parameters: the conditional prior
  p(z | visible pixels, mask) and the posterior q(z | complete image, mask).
* `Generator` G(z, visible region) -> full image.  Its own context encoder
  reads the visible pixels, so no gradient of G's losses needs the encoders.
* `Discriminator` is a patch discriminator on (image, mask) returning logits
  and intermediate features (for Larsen's learned similarity, Dis_l).
Upsampling is nearest-resize + conv: no checkerboard artifacts, and XLA:CPU
runs it far faster than ConvTranspose.
"""
import math
from typing import Any, NamedTuple, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any


def _act(x):
  return nn.leaky_relu(x, 0.2)


def dtype_from_name(name: str) -> Dtype:
  """Maps 'float32' / 'bfloat16' / 'float16' to a jnp dtype."""
  try:
    return {'float32': jnp.float32, 'bfloat16': jnp.bfloat16,
            'float16': jnp.float16}[name]
  except KeyError:
    raise ValueError(f'model.dtype must be float32, bfloat16 or float16; '
                     f'got {name!r}') from None


def upsample2x(x):
  """Nearest-neighbour 2x upsampling as a broadcast (cheap gradient)."""
  n, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, 2, w, 2, c))
  return x.reshape(n, 2 * h, 2 * w, c)


def pyramid_fill(image, mask):
  """Fills holes by push-pull over a mask-weighted image pyramid (no params).

  Pull: halve the resolution until 1x1, each cell the mean of its visible
  pixels.  Push: from coarse to fine, a cell with any visible pixel keeps its
  own mean, an empty one takes the bilinear upsampling of the coarser level.
  A smooth fill close to biharmonic inpainting (within ~0.3 dB PSNR on the
  held-out set) for a fraction of the cost; the generator adds detail to it.

  Args:
    image: [N, H, W, C]; hole pixels are ignored.
    mask: [N, H, W, 1], 1 = missing.
  Returns:
    [N, H, W, C]: visible pixels unchanged, holes filled (0 where the mask
    is full).
  """
  image = image.astype(jnp.float32)
  valid = 1.0 - mask.astype(jnp.float32)
  levels = max(1, math.ceil(math.log2(max(image.shape[1:3]))))
  colours, weights = [image * valid], [valid]
  for _ in range(levels):
    # 'SAME' zero padding adds zero weight, so odd sizes pool correctly.
    w = nn.avg_pool(weights[-1], (2, 2), (2, 2), padding='SAME')
    c = nn.avg_pool(colours[-1] * weights[-1], (2, 2), (2, 2),
                    padding='SAME')
    colours.append(c / jnp.maximum(w, 1e-6))
    weights.append(w)
  fill = colours[-1]
  for level in reversed(range(levels)):
    up = jax.image.resize(fill, colours[level].shape, 'linear')
    fill = jnp.where(weights[level] > 0, colours[level], up)
  return jax.lax.stop_gradient(fill)


def harmonic_fill(image, mask, iterations: int = 100):
  """`pyramid_fill`, then Jacobi steps of Laplace's equation in the holes.

  Each step replaces every hole pixel by the mean of its 4 neighbours
  (edge-replicated at the border); visible pixels stay fixed.  The pyramid
  start supplies the low frequencies, so ~100 steps come close to the
  harmonic interpolant of the visible pixels, which scores above biharmonic
  inpainting on the held-out set (docs/quality.md).  Shapes as pyramid_fill.
  """
  mask = mask.astype(jnp.float32)
  fill = pyramid_fill(image, mask)

  def step(_, f):
    p = jnp.pad(f, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='edge')
    mean = (p[:, :-2, 1:-1] + p[:, 2:, 1:-1]
            + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]) / 4.0
    return f + mask * (mean - f)

  return jax.lax.stop_gradient(jax.lax.fori_loop(0, iterations, step, fill))


class ResBlock(nn.Module):
  """Pre-activation residual block with a dilated 3x3 conv."""
  features: int
  dilation: int = 1
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = nn.Conv(self.features, (3, 3), kernel_dilation=self.dilation,
                dtype=self.dtype)(_act(x))
    h = nn.Conv(self.features, (3, 3), dtype=self.dtype)(_act(h))
    return x + h


class Encoder(nn.Module):
  """Gaussian encoder: (image, mask) -> (mean, log-variance) of z.

  Attributes:
    channels: width of the first conv; doubles per downsampling.
    max_channels: cap on the width.
    num_down: number of stride-2 convs; z is at 1 / 2**num_down resolution.
    latent_channels: channels of z.
  """
  channels: int
  max_channels: int
  num_down: int
  latent_channels: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, image, mask) -> Tuple[jax.Array, jax.Array]:
    h = jnp.concatenate([image, mask], axis=-1).astype(self.dtype)
    h = _act(nn.Conv(self.channels, (3, 3), dtype=self.dtype)(h))
    for i in range(self.num_down):
      ch = min(self.channels * 2 ** (i + 1), self.max_channels)
      h = _act(nn.Conv(ch, (3, 3), strides=(2, 2), dtype=self.dtype)(h))
    h = ResBlock(h.shape[-1], dilation=2, dtype=self.dtype)(h)
    stats = nn.Conv(2 * self.latent_channels, (3, 3), dtype=jnp.float32)(
        _act(h).astype(jnp.float32))
    mean, logvar = jnp.split(stats, 2, axis=-1)
    # A soft bound keeps exp(logvar) finite early in training.
    logvar = 8.0 * jnp.tanh(logvar / 8.0)
    return mean, logvar


class Generator(nn.Module):
  """G(z, masked image, mask) -> image in [-1, 1] (U-Net with resize+conv).

  Attributes:
    channels: width at full resolution; doubles per downsampling.
    max_channels: cap on the width.
    num_down: number of downsamplings (must match the encoders').
    dilations: one residual block per entry at the bottleneck; dilations
      2/4/8 give the bottleneck an image-wide receptive field at 64x64.
    initial_fill: 'harmonic' (G reads `harmonic_fill` of the holes and
      outputs fill + residual; the residual's last conv starts at zero, so
      an untrained G already fills smoothly), 'pyramid' (the same from
      `pyramid_fill`) or 'none' (G reads the masked image and outputs tanh
      of its last conv).
    fill_iterations: Jacobi steps of the 'harmonic' fill.
    residual_gate: output fill + sigmoid(gate) * residual, the gate's bias
      starting at -3: the net must open the gate where detail pays, and can
      shut it to exactly the fill in flat regions, where the smallest
      residual noise costs tens of dB of PSNR.
  """
  channels: int
  max_channels: int
  num_down: int
  dilations: Sequence[int] = (1, 2, 4, 8)
  initial_fill: str = 'none'
  fill_iterations: int = 100
  residual_gate: bool = False
  dtype: Dtype = jnp.float32

  def _width(self, level: int) -> int:
    return min(self.channels * 2 ** level, self.max_channels)

  @nn.compact
  def __call__(self, masked_image, mask, z):
    """z may hold k latents per image, stacked: [k * N, ...] -> [k * N, ...].

    The context encoder then runs once per image instead of once per latent.
    """
    if self.initial_fill == 'harmonic':
      fill = harmonic_fill(masked_image, mask, self.fill_iterations)
      masked_image = fill
    elif self.initial_fill == 'pyramid':
      fill = pyramid_fill(masked_image, mask)
      masked_image = fill
    elif self.initial_fill != 'none':
      raise ValueError("model.initial_fill must be 'harmonic', 'pyramid' or "
                       f"'none'; got {self.initial_fill!r}")
    h = jnp.concatenate([masked_image, mask], axis=-1).astype(self.dtype)
    h = _act(nn.Conv(self._width(0), (5, 5), dtype=self.dtype)(h))
    skips = []
    for level in range(1, self.num_down + 1):
      skips.append(h)
      h = _act(nn.Conv(self._width(level), (3, 3), strides=(2, 2),
                       dtype=self.dtype)(h))
    k, rest = divmod(z.shape[0], h.shape[0])
    if rest:
      raise ValueError(f'z batch {z.shape[0]} is not a multiple of the image '
                       f'batch {h.shape[0]}.')
    if k > 1:
      h, *skips = (jnp.concatenate([x] * k) for x in [h] + skips)
    h = jnp.concatenate([h, z.astype(self.dtype)], axis=-1)
    h = nn.Conv(self._width(self.num_down), (3, 3), dtype=self.dtype)(h)
    for d in self.dilations:
      h = ResBlock(h.shape[-1], dilation=d, dtype=self.dtype)(h)
    h = _act(h)
    for level in reversed(range(self.num_down)):
      h = upsample2x(h)
      h = _act(nn.Conv(self._width(level), (3, 3), dtype=self.dtype)(h))
      h = jnp.concatenate([h, skips[level]], axis=-1)
      h = _act(nn.Conv(self._width(level), (3, 3), dtype=self.dtype)(h))
    if self.initial_fill == 'none':
      out = nn.Conv(3, (3, 3), dtype=jnp.float32)(h.astype(jnp.float32))
      return jnp.tanh(out)
    h = h.astype(jnp.float32)
    residual = nn.Conv(3, (3, 3), dtype=jnp.float32,
                       kernel_init=nn.initializers.zeros)(h)
    if self.residual_gate:
      gate = nn.Conv(1, (3, 3), dtype=jnp.float32,
                     bias_init=nn.initializers.constant(-3.0),
                     name='gate')(h)
      residual = nn.sigmoid(gate) * residual
    if k > 1:
      fill = jnp.concatenate([fill] * k)
    return fill + residual


class Discriminator(nn.Module):
  """Patch discriminator on (image, mask) -> (logits map, features)."""
  channels: int
  max_channels: int
  num_layers: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, image, mask):
    h = jnp.concatenate([image, mask], axis=-1).astype(self.dtype)
    features = []
    for i in range(self.num_layers):
      ch = min(self.channels * 2 ** i, self.max_channels)
      h = _act(nn.Conv(ch, (4, 4), strides=(2, 2), dtype=self.dtype)(h))
      features.append(h.astype(jnp.float32))
    h = _act(nn.Conv(h.shape[-1], (3, 3), dtype=self.dtype)(h))
    features.append(h.astype(jnp.float32))
    logits = nn.Conv(1, (3, 3), dtype=jnp.float32)(h.astype(jnp.float32))
    return logits, features


class Networks(NamedTuple):
  prior: Encoder
  posterior: Encoder
  generator: Generator
  discriminator: Discriminator


def create_networks(model_config) -> Networks:
  """Builds the four networks from `config.model`."""
  dtype = dtype_from_name(model_config.get('dtype', 'float32'))
  enc = dict(channels=model_config.encoder_channels,
             max_channels=model_config.max_channels,
             num_down=model_config.num_down,
             latent_channels=model_config.latent_channels, dtype=dtype)
  return Networks(
      prior=Encoder(**enc),
      posterior=Encoder(**enc),
      generator=Generator(
          channels=model_config.base_channels,
          max_channels=model_config.max_channels,
          num_down=model_config.num_down,
          dilations=tuple(model_config.dilations),
          initial_fill=model_config.get('initial_fill', 'none'),
          fill_iterations=model_config.get('fill_iterations', 100),
          residual_gate=model_config.get('residual_gate', False),
          dtype=dtype),
      discriminator=Discriminator(
          channels=model_config.disc_channels,
          max_channels=model_config.max_channels,
          num_layers=model_config.disc_layers, dtype=dtype))


def downsampling_factor(model_config) -> int:
  """H and W of every input must be multiples of this."""
  return 2 ** max(model_config.num_down, model_config.disc_layers)


def latent_shape(model_config, height: int, width: int, batch: int):
  f = 2 ** model_config.num_down
  return (batch, height // f, width // f, model_config.latent_channels)


def init_params(rng, nets: Networks, model_config, image_size: int):
  """Returns (g_params, d_params); g_params = {prior, posterior, generator}."""
  k1, k2, k3, k4 = jax.random.split(rng, 4)
  x = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  m = jnp.zeros((1, image_size, image_size, 1), jnp.float32)
  z = jnp.zeros(latent_shape(model_config, image_size, image_size, 1))
  g_params = {
      'prior': nets.prior.init(k1, x, m)['params'],
      'posterior': nets.posterior.init(k2, x, m)['params'],
      'generator': nets.generator.init(k3, x, m, z)['params'],
  }
  d_params = nets.discriminator.init(k4, x, m)['params']
  return g_params, d_params


def complete(nets: Networks, g_params, image, mask, eps=None):
  """Inpaints with the prior: z = mean (eps None) or mean + std * eps.

  Args:
    nets: from `create_networks`.
    g_params: needs 'prior' and 'generator'.
    image: [N, H, W, 3] in [-1, 1]; hole pixels are ignored.
    mask: [N, H, W, 1], 1 = missing.
    eps: optional standard-normal noise of the latent's shape.
  Returns:
    Raw generator output [N, H, W, 3] clipped to [-1, 1] (not composited).
  """
  masked = image * (1.0 - mask)
  mean, logvar = nets.prior.apply({'params': g_params['prior']}, masked, mask)
  z = mean if eps is None else mean + jnp.exp(0.5 * logvar) * eps
  out = nets.generator.apply({'params': g_params['generator']},
                             masked, mask, z)
  return jnp.clip(out, -1.0, 1.0)

"""Building blocks shared by the networks (NHWC, images in [-1, 1])."""
from typing import Any, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from vaegan_jax.models import fills

Dtype = Any


def act(x):
  """The networks' activation: leaky ReLU, slope 0.2."""
  return nn.leaky_relu(x, 0.2)


def upsample2x(x):
  """Nearest-neighbour 2x upsampling as a broadcast (cheap gradient)."""
  n, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, 2, w, 2, c))
  return x.reshape(n, 2 * h, 2 * w, c)


def repeat_for_latents(x, z):
  """x [N, ...] repeated to z's batch of k latents per image: [k * N, ...]."""
  k, rest = divmod(z.shape[0], x.shape[0])
  if rest or not k:
    raise ValueError(f'z batch {z.shape[0]} is not a multiple of the image '
                     f'batch {x.shape[0]}.')
  return jnp.concatenate([x] * k) if k > 1 else x


class ResBlock(nn.Module):
  """Pre-activation residual block with a dilated 3x3 conv."""
  features: int
  dilation: int = 1
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = nn.Conv(self.features, (3, 3), kernel_dilation=self.dilation,
                dtype=self.dtype)(act(x))
    h = nn.Conv(self.features, (3, 3), dtype=self.dtype)(act(h))
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
    h = act(nn.Conv(self.channels, (3, 3), dtype=self.dtype)(h))
    for i in range(self.num_down):
      ch = min(self.channels * 2 ** (i + 1), self.max_channels)
      h = act(nn.Conv(ch, (3, 3), strides=(2, 2), dtype=self.dtype)(h))
    h = ResBlock(h.shape[-1], dilation=2, dtype=self.dtype)(h)
    stats = nn.Conv(2 * self.latent_channels, (3, 3), dtype=jnp.float32)(
        act(h).astype(jnp.float32))
    mean, logvar = jnp.split(stats, 2, axis=-1)
    # A soft bound keeps exp(logvar) finite early in training.
    logvar = 8.0 * jnp.tanh(logvar / 8.0)
    return mean, logvar


class Generator(nn.Module):
  """G(z, masked image, mask) -> image (U-Net with resize+conv).

  Attributes:
    channels: width at full resolution; doubles per downsampling.
    max_channels: cap on the width.
    num_down: number of downsamplings (must match the encoders').
    dilations: one residual block per entry at the bottleneck; dilations
      2/4/8 give the bottleneck an image-wide receptive field at 64x64.
    initial_fill: 'harmonic' (G reads `fills.harmonic_fill` of the holes and
      outputs fill + residual; the residual's last conv starts at zero, so
      an untrained G already fills smoothly), 'pyramid' (the same from
      `fills.pyramid_fill`) or 'none' (G reads the masked image and outputs tanh
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
  dilations: Sequence[int]
  initial_fill: str
  fill_iterations: int
  residual_gate: bool
  dtype: Dtype = jnp.float32

  def _width(self, level: int) -> int:
    return min(self.channels * 2 ** level, self.max_channels)

  @nn.compact
  def __call__(self, masked_image, mask, z, fill=None):
    """z may hold k latents per image, stacked: [k * N, ...] -> [k * N, ...].

    The context encoder then runs once per image instead of once per latent.
    A caller that already has the initial fill passes it as `fill`.
    """
    if fill is not None:
      masked_image = fill
    elif self.initial_fill == 'harmonic':
      fill = fills.harmonic_fill(masked_image, mask, self.fill_iterations)
      masked_image = fill
    elif self.initial_fill == 'pyramid':
      fill = fills.pyramid_fill(masked_image, mask)
      masked_image = fill
    h = jnp.concatenate([masked_image, mask], axis=-1).astype(self.dtype)
    h = act(nn.Conv(self._width(0), (5, 5), dtype=self.dtype)(h))
    skips = []
    for level in range(1, self.num_down + 1):
      skips.append(h)
      h = act(nn.Conv(self._width(level), (3, 3), strides=(2, 2),
                       dtype=self.dtype)(h))
    h, *skips = (repeat_for_latents(x, z) for x in [h] + skips)
    h = jnp.concatenate([h, z.astype(self.dtype)], axis=-1)
    h = nn.Conv(self._width(self.num_down), (3, 3), dtype=self.dtype)(h)
    for d in self.dilations:
      h = ResBlock(h.shape[-1], dilation=d, dtype=self.dtype)(h)
    h = act(h)
    for level in reversed(range(self.num_down)):
      h = upsample2x(h)
      h = act(nn.Conv(self._width(level), (3, 3), dtype=self.dtype)(h))
      h = jnp.concatenate([h, skips[level]], axis=-1)
      h = act(nn.Conv(self._width(level), (3, 3), dtype=self.dtype)(h))
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
    return repeat_for_latents(fill, z) + residual

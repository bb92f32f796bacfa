"""Building blocks shared by the networks (NHWC, images in [-1, 1])."""
from typing import Any, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

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



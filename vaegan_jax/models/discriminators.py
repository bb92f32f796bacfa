"""Discriminators, registered by name ('patch', 'multiscale').

Each is a linen Module with __call__(image, mask) -> (logits, features) and
`size_multiple`; logits may have any shape whose first axis is the batch
(the losses average them), features is a list of [N, ...] arrays used by
Larsen's learned similarity (Dis_l).
"""
import flax.linen as nn
import jax.numpy as jnp

from vaegan_jax.models.layers import Dtype, act
from vaegan_jax.models.registry import register


@register('patch')
class PatchDiscriminator(nn.Module):
  """Patch discriminator on (image, mask) -> (logits map, features).

  Attributes:
    channels: width of the first conv; doubles per layer.
    max_channels: cap on the width.
    num_layers: stride-2 convs; logits are at 1 / 2**num_layers resolution.
  """
  channels: int
  max_channels: int
  num_layers: int
  dtype: Dtype = jnp.float32

  @property
  def size_multiple(self) -> int:
    return 2 ** self.num_layers

  @nn.compact
  def __call__(self, image, mask):
    h = jnp.concatenate([image, mask], axis=-1).astype(self.dtype)
    features = []
    for i in range(self.num_layers):
      ch = min(self.channels * 2 ** i, self.max_channels)
      h = act(nn.Conv(ch, (4, 4), strides=(2, 2), dtype=self.dtype)(h))
      features.append(h.astype(jnp.float32))
    h = act(nn.Conv(h.shape[-1], (3, 3), dtype=self.dtype)(h))
    features.append(h.astype(jnp.float32))
    logits = nn.Conv(1, (3, 3), dtype=jnp.float32)(h.astype(jnp.float32))
    return logits, features


@register('multiscale')
class MultiScaleDiscriminator(nn.Module):
  """Patch discriminators on the image and on 2x, 4x... downsampled copies.

  Texture is judged at the full resolution and structure at the coarser
  ones (pix2pixHD's multi-scale D).  The scales' logits are flattened and
  concatenated ([N, P, 1]); their features are concatenated lists.

  Attributes:
    channels, max_channels, num_layers: of each scale's PatchDiscriminator.
    num_scales: how many scales (1 = a plain PatchDiscriminator).
  """
  channels: int
  max_channels: int
  num_layers: int
  num_scales: int
  dtype: Dtype = jnp.float32

  def __post_init__(self):
    if self.num_scales < 1:
      raise ValueError(f'num_scales must be >= 1; got {self.num_scales}')
    super().__post_init__()

  @property
  def size_multiple(self) -> int:
    return 2 ** (self.num_layers + self.num_scales - 1)

  @nn.compact
  def __call__(self, image, mask):
    logits, features = [], []
    for scale in range(self.num_scales):
      if scale:
        image = nn.avg_pool(image, (2, 2), (2, 2))
        mask = nn.max_pool(mask, (2, 2), (2, 2))
      lg, ft = PatchDiscriminator(self.channels, self.max_channels,
                                  self.num_layers, self.dtype,
                                  name=f'scale{scale}')(image, mask)
      logits.append(lg.reshape(lg.shape[0], -1, 1))
      features += ft
    return jnp.concatenate(logits, axis=1), features

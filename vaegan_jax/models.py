"""The networks, chosen by name: `config.model.generator` / `.discriminator`.

Conventions: images are float in [-1, 1], NHWC; masks are float {0, 1} with
1 = missing pixel, shape [N, H, W, 1].

Registered networks (`REGISTRY`), each built from its own sub-config
`config.model.<name>` passed as keyword arguments (`create_networks`):
* 'vaegan' (`VAEInpainter`): the seed's generator side, a conditional prior
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
  complete(image, mask, noise=None) -> [N, H, W, 3] in [-1, 1]: the prior
      mean (or a sample) decoded and clipped; not composited.
  __call__(image, mask): touches every sub-network (used by `init`).
  latent_shape(height, width, batch) -> shape of z (no parameters needed).
  size_multiple: H and W of every input must be multiples of it.
A discriminator is a Module with __call__(image, mask) -> (logits, features)
and `size_multiple`.  tests/test_models.py checks the contract of every
registered network.  A new generator: one class (subclass `LatentInpainter`
and define its three sub-networks in `setup`), `@register('name')`, and its
sub-config in configs/default.py; docs/design.md has a worked example.

Upsampling is nearest-resize + conv: no checkerboard artifacts, and XLA:CPU
runs it far faster than ConvTranspose.
"""
import dataclasses
from typing import Any, NamedTuple, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from vaegan_jax import fills

Dtype = Any
INITIAL_FILLS = ('harmonic', 'pyramid', 'none')
# name -> Module class; a name is also the key of its sub-config under
# config.model.  Generators and discriminators share one namespace.
REGISTRY = {}


def register(name: str):
  """Class decorator: makes a network selectable as `name` in the config."""
  def add(cls):
    if name in REGISTRY and REGISTRY[name] is not cls:
      raise ValueError(f'A network is already registered as {name!r}: '
                       f'{REGISTRY[name].__name__}.')
    REGISTRY[name] = cls
    return cls
  return add


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


class Decoder(nn.Module):
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
  def __call__(self, masked_image, mask, z):
    """z may hold k latents per image, stacked: [k * N, ...] -> [k * N, ...].

    The context encoder then runs once per image instead of once per latent.
    """
    if self.initial_fill == 'harmonic':
      fill = fills.harmonic_fill(masked_image, mask, self.fill_iterations)
      masked_image = fill
    elif self.initial_fill == 'pyramid':
      fill = fills.pyramid_fill(masked_image, mask)
      masked_image = fill
    h = jnp.concatenate([masked_image, mask], axis=-1).astype(self.dtype)
    h = _act(nn.Conv(self._width(0), (5, 5), dtype=self.dtype)(h))
    skips = []
    for level in range(1, self.num_down + 1):
      skips.append(h)
      h = _act(nn.Conv(self._width(level), (3, 3), strides=(2, 2),
                       dtype=self.dtype)(h))
    h, *skips = (repeat_for_latents(x, z) for x in [h] + skips)
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
    return repeat_for_latents(fill, z) + residual


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

  def decode(self, image, mask, z):
    """G(z, visible pixels) -> raw [k * N, H, W, 3] for k latents per image."""
    return self.generator(image * (1.0 - mask), mask, z)

  def complete(self, image, mask, noise=None):
    """Prior mean (noise None) or sample, decoded and clipped to [-1, 1]."""
    z, _, _ = self.encode(image, mask, noise)
    return jnp.clip(self.decode(image, mask, z), -1.0, 1.0)

  def __call__(self, image, mask):
    self.encode(image, mask)
    z, _, _ = self.encode(image, mask, posterior=True)
    return self.decode(image, mask, z)


@register('vaegan')
class VAEInpainter(LatentInpainter):
  """The generator side of the VAE-GAN (see the contract above).

  Attributes:
    base_channels: G's width at full resolution; doubles per downsampling.
    encoder_channels: the encoders' first width.
    max_channels: cap on every width.
    num_down: downsamplings; z is at 1 / 2**num_down resolution.
    latent_channels: channels of z.
    dilations, initial_fill, fill_iterations, residual_gate: of `Decoder`.
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
    encoder = dict(channels=self.encoder_channels,
                   max_channels=self.max_channels, num_down=self.num_down,
                   latent_channels=self.latent_channels, dtype=self.dtype)
    # The attribute names are the checkpoint keys.
    self.prior = Encoder(**encoder)
    self.posterior = Encoder(**encoder)
    self.generator = Decoder(
        channels=self.base_channels, max_channels=self.max_channels,
        num_down=self.num_down, dilations=tuple(self.dilations),
        initial_fill=self.initial_fill, fill_iterations=self.fill_iterations,
        residual_gate=self.residual_gate, dtype=self.dtype)


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
      h = _act(nn.Conv(ch, (4, 4), strides=(2, 2), dtype=self.dtype)(h))
      features.append(h.astype(jnp.float32))
    h = _act(nn.Conv(h.shape[-1], (3, 3), dtype=self.dtype)(h))
    features.append(h.astype(jnp.float32))
    logits = nn.Conv(1, (3, 3), dtype=jnp.float32)(h.astype(jnp.float32))
    return logits, features


class Networks(NamedTuple):
  generator: nn.Module      # the generator contract (module docstring)
  discriminator: nn.Module


def _build(model_config, role: str, dtype) -> nn.Module:
  name = model_config[role]
  if name not in REGISTRY:
    raise ValueError(f'model.{role}={name!r} is not a registered network; '
                     f'choose one of {sorted(REGISTRY)} (models.register).')
  if name not in model_config:
    raise ValueError(f'model.{role}={name!r} needs its sub-config '
                     f'config.model.{name} (add it to configs/default.py).')
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in model_config[name].to_dict().items()}
  fields = {f.name for f in dataclasses.fields(REGISTRY[name])}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ValueError(f'config.model.{name} has keys {unknown} that '
                     f'{REGISTRY[name].__name__} does not take.')
  try:
    return REGISTRY[name](**kwargs, dtype=dtype)
  except (TypeError, ValueError) as e:
    raise ValueError(f'config.model.{name}: {e}') from None


def create_networks(model_config) -> Networks:
  """Builds `model_config.generator` and `.discriminator` by name."""
  dtype = dtype_from_name(model_config.dtype)
  return Networks(generator=_build(model_config, 'generator', dtype),
                  discriminator=_build(model_config, 'discriminator', dtype))


def size_multiple(nets: Networks) -> int:
  """H and W of every training image must be multiples of this."""
  return max(nets.generator.size_multiple, nets.discriminator.size_multiple)


def init_params(rng, nets: Networks, image_size: int):
  """Returns (g_params, d_params); g_params = {prior, posterior, generator}."""
  kg, kd = jax.random.split(rng)
  x = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  m = jnp.zeros((1, image_size, image_size, 1), jnp.float32)
  g_params = nets.generator.init(kg, x, m)['params']
  d_params = nets.discriminator.init(kd, x, m)['params']
  return g_params, d_params

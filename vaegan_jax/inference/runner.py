"""The compiled model: one callable that every inference path calls.

  run = Runner(params)                    # params: api.InpaintParams
  raw = run(images, holes, key)           # [B, h, w, 3] in [0, 1]

Inputs are padded to size buckets (inputs.bucket), so nearby sizes reuse
one compiled program; compiled programs are kept per (model, padded shape)
in a small process-wide cache and checked against the free memory before
they first run.  The prior mean is the sample of zero noise, so the
default fill and the samples share one program.
"""
import collections
import json
from typing import Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vaegan_jax.inference import inputs
from vaegan_jax import models

_EXECUTABLES = collections.OrderedDict()  # (config, shape, fidelity) -> exe
_MAX_EXECUTABLES = 16
# Host copies per padded pixel: float image, padded image, mask, output.
_HOST_BYTES_PER_PIXEL = 48


def _frozen_model_config(model_config) -> str:
  return json.dumps(model_config.to_dict(), sort_keys=True, default=list)


def _run(frozen_config: str, fidelity: bool, params, image, mask, eps):
  config = ml_collections.ConfigDict(json.loads(frozen_config))
  generator = models.create_networks(config).inpainter
  out = generator.apply({'params': params}, image * 2.0 - 1.0, mask, eps,
                        fidelity=fidelity, method='complete')
  return (out + 1.0) / 2.0


_run_jit = jax.jit(_run, static_argnums=(0, 1))


def _abstract(tree):
  return jax.tree_util.tree_map(
      lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a)), tree)


def _executable(params, shape: Tuple[int, int, int], fidelity: bool):
  """The compiled model for padded [N, H, W]; MemoryError if it cannot fit."""
  frozen = _frozen_model_config(params.model_config)
  key = (frozen, shape, fidelity)
  if key not in _EXECUTABLES:
    n, h, w = shape
    eps = jax.ShapeDtypeStruct(
        params.networks.inpainter.latent_shape(h, w, n), jnp.float32)
    compiled = _run_jit.lower(
        frozen, fidelity, _abstract(params.params),
        jax.ShapeDtypeStruct((n, h, w, 3), jnp.float32),
        jax.ShapeDtypeStruct((n, h, w, 1), jnp.float32), eps).compile()
    stats = compiled.memory_analysis()
    if stats is not None:
      device = jax.devices()[0]
      need = (stats.temp_size_in_bytes + stats.argument_size_in_bytes
              + stats.output_size_in_bytes)
      if device.platform == 'cpu':  # Host arrays share the same memory.
        need += _HOST_BYTES_PER_PIXEL * n * h * w
      inputs.check_memory(need, inputs.available_bytes(device),
                          f'{n} image(s) padded to {h}x{w}')
    _EXECUTABLES[key] = compiled
    while len(_EXECUTABLES) > _MAX_EXECUTABLES:
      _EXECUTABLES.popitem(last=False)
  return _EXECUTABLES[key]


def padded_shape(n: int, h: int, w: int, factor: int) -> Tuple[int, ...]:
  """The compiled shape of n images of h x w: each side its bucket."""
  return (inputs.bucket(n), inputs.bucket(h, factor),
          inputs.bucket(w, factor))


def pad(x: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
  """Pads [N, H, W, C] at the end to [*shape, C].

  H and W are reflected (edge-repeated where a side is too short to
  reflect), so the padding looks like the image around it and the model
  sees no artificial border; extra batch entries repeat the last one and
  are dropped afterwards.
  """
  for axis, size in enumerate(shape):
    extra = size - x.shape[axis]
    if extra:
      widths = [(0, 0)] * x.ndim
      widths[axis] = (0, extra)
      mode = 'reflect' if axis and x.shape[axis] > extra else 'edge'
      x = np.pad(x, widths, mode=mode)
  return x


def normal(key, shape) -> np.ndarray:
  """Standard normal noise [*shape] float32 drawn on the host from a jax
  key: the same key gives the same noise, and nothing is compiled (JAX's
  normal sampler took 1-3 s to compile on a CPU)."""
  seed = np.asarray(jax.random.key_data(key), np.uint32).ravel().tolist()
  return np.random.default_rng(seed).standard_normal(shape, np.float32)


class Runner:
  """(images [B, h, w, 3] in [0, 1], holes bool [B, h, w], key or None)
  -> the model's raw output float32 [B, h, w, 3] in [0, 1].

  key None: the prior mean; else a sample of the prior.  The mask is padded
  like the image: the padding is known wherever it mirrors known pixels,
  and a hole where it mirrors a hole.
  """

  def __init__(self, params, fidelity: bool = False):
    self.params = params    # api.InpaintParams
    self.fidelity = bool(fidelity)

  def __call__(self, images, holes, key):
    params = self.params
    n, h, w = holes.shape
    shape = padded_shape(n, h, w, params.pad_multiple)
    exe = _executable(params, shape, self.fidelity)
    xp = pad(images.astype(np.float32), shape)
    mp = pad(holes[..., None].astype(np.float32), shape)
    latent = params.networks.inpainter.latent_shape(shape[1], shape[2],
                                                    shape[0])
    # z = mean + exp(logvar / 2) * eps: zero noise is the mean exactly.
    eps = (np.zeros(latent, np.float32) if key is None
           else normal(key, latent))
    try:
      return np.asarray(exe(params.params, xp, mp, eps))[:n, :h, :w]
    except jax.errors.JaxRuntimeError as e:
      if 'RESOURCE_EXHAUSTED' not in str(e):
        raise
      raise MemoryError(f'image: {n} image(s) of {h}x{w} ran out of device '
                        'memory; pass fewer images per call or downscale '
                        'them.') from e

"""Public inference API: `load_params` and `inpaint`.

  params = load_params('pretrained/vaegan64')  # or a training workdir
  filled = inpaint(params, image, mask)                     # best single fill
  samples = inpaint(params, image, mask, num_samples=8)     # 8 diverse fills

The command line is vaegan_jax/inference/cli.py (`vaegan-inpaint`).
"""
import collections
import dataclasses
import functools
import importlib.resources
import json
import os
from typing import Any, Optional, Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vaegan_jax.inference import inputs
from vaegan_jax.inference import patch_synthesis
from vaegan_jax.inference import whole_photo
from vaegan_jax import models
from vaegan_jax.run import checkpoint
from vaegan_jax.run import config_file


# The model shipped as package data in vaegan_jax/pretrained/ (a checkout
# links it as ./pretrained; configs/pretrained_64.py trained it).
DEFAULT_MODEL = 'vaegan64'
PRETRAINED_DIR = str(importlib.resources.files('vaegan_jax') / 'pretrained')


def shipped_model(workdir: str) -> Optional[str]:
  """The directory of the shipped model that `workdir` is or names, else None.

  'vaegan64' and 'pretrained/vaegan64' name the shipped model wherever no
  such directory exists, so the same call works in a checkout and after
  `pip install`.
  """
  if config_file.is_remote(workdir):
    return None
  if os.path.isdir(workdir):
    real = os.path.realpath(workdir)
    inside = os.path.dirname(real) == os.path.realpath(PRETRAINED_DIR)
    return real if inside else None
  parent, name = os.path.split(os.path.normpath(workdir))
  if parent not in ('', 'pretrained') or name in ('', '.', '..'):
    return None
  path = os.path.join(PRETRAINED_DIR, name)
  return path if os.path.isfile(os.path.join(path, config_file.NAME)) else None


@dataclasses.dataclass(frozen=True)
class InpaintParams:
  """What inference needs: generator + prior weights and the architecture."""
  params: Any                         # {'prior': ..., 'generator': ...}
  model_config: ml_collections.ConfigDict
  step: int
  source: str = ''
  image_size: int = 64   # the training crop size: the coarsest work scale

  @functools.cached_property
  def networks(self) -> models.Networks:
    # Built once per InpaintParams, not on every inpaint call.
    return models.create_networks(self.model_config)

  @property
  def pad_multiple(self) -> int:
    """H and W are padded to multiples of this (the generator's)."""
    return self.networks.inpainter.size_multiple


def load_params(workdir: Optional[str] = None, *, use_ema: bool = True,
                step: Optional[int] = None) -> InpaintParams:
  """Restores the inference weights (EMA generator if present) of a workdir.

  Args:
    workdir: a directory written by train.py or export, or a shipped
      model: 'pretrained/vaegan64' (or just 'vaegan64'); None: the shipped
      default model.
    use_ema: take the EMA of the generator weights (recommended).
    step: a specific checkpoint step (default: the latest).
  Returns:
    InpaintParams for `inpaint`; research code needs no config.
  """
  workdir = DEFAULT_MODEL if workdir is None else workdir
  if not os.path.exists(workdir):
    workdir = shipped_model(workdir) or workdir
  config = config_file.read(workdir)
  raw, step = checkpoint.restore_raw(workdir, step)
  key = 'ema_params' if use_ema and 'ema_params' in raw else 'g_params'
  try:
    params = {'prior': raw[key]['prior'], 'generator': raw[key]['generator']}
  except KeyError as e:
    raise ValueError(f'workdir={workdir!r}: checkpoint lacks {e}; was it '
                     'written by an incompatible version?') from None
  if 'model' not in config:
    raise ValueError(f'workdir={workdir!r}: config.json has no "model" '
                     'section; was it written by an incompatible version?')
  _check_architecture(workdir, params, config.model)
  params = jax.tree_util.tree_map(jnp.asarray, params)
  return InpaintParams(params=params, model_config=config.model, step=step,
                       source=workdir,
                       image_size=int(config.get('image_size', 64)))


def _check_architecture(workdir: str, params, model_config) -> None:
  """ValueError unless `params` has the shapes that config.json describes."""
  try:
    nets = models.create_networks(model_config)
    g_params, _ = jax.eval_shape(
        lambda: models.init_params(jax.random.PRNGKey(0), nets,
                                   models.size_multiple(nets)))
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    raise ValueError(f'workdir={workdir!r}: config.json does not describe a '
                     f'model this version can build ({type(e).__name__}: '
                     f'{e}); was it written by an incompatible version?'
                     ) from None

  checkpoint.check_shapes(workdir, params, {k: g_params[k]
                                           for k in ('prior', 'generator')})


def _frozen_model_config(model_config) -> str:
  return json.dumps(model_config.to_dict(), sort_keys=True, default=list)


def _run(frozen_config: str, fidelity: bool, params, image, mask, eps):
  config = ml_collections.ConfigDict(json.loads(frozen_config))
  generator = models.create_networks(config).inpainter
  out = generator.apply({'params': params}, image * 2.0 - 1.0, mask, eps,
                        fidelity=fidelity, method='complete')
  return (out + 1.0) / 2.0


_run_jit = jax.jit(_run, static_argnums=(0, 1))
_EXECUTABLES = collections.OrderedDict()  # (config, shape, ...) -> exe
_MAX_EXECUTABLES = 16
# Host copies per padded pixel: float image, padded image, mask, output.
_HOST_BYTES_PER_PIXEL = 48


def _abstract(tree):
  return jax.tree_util.tree_map(
      lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a)), tree)


def _executable(params: InpaintParams, shape: Tuple[int, int, int],
                fidelity: bool):
  """The compiled model for padded [N, H, W]; MemoryError if it cannot fit.

  The prior mean is the sample of zero noise, so the default fill and
  the samples share one compiled program.
  """
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


def _bucket(n: int, factor: int = 1) -> int:
  """The padded size of a side of n: one of a few sizes per octave.

  The smallest factor * q >= n where q is 1, 2, 3, 4 or m * 2**e with
  m in {4, 5, 6, 7}.  With factor 8 the sizes are 8, 16, 24, 32, 40, 48,
  56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, ...: at most four per
  octave, so nearby sizes share a compiled model, and a side grows by less
  than 25% over the next multiple of factor (powers of two stay as they
  are).  factor 1 gives the batch sizes 1..8, 10, 12, 14, 16, 20, 24, ...
  """
  q = -(-n // factor)
  if q > 4:
    e = q.bit_length() - 3
    q = -(-q // (1 << e)) << e
  return q * factor


def _pad(x: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
  """Pads [N, H, W, C] at the end to [*shape, C].

  H and W are reflected (edge-repeated where a side is too short to
  reflect), so the padding looks like the image around it and the model
  sees no artificial border; extra batch entries repeat the last one and
  are dropped afterwards.
  """
  for axis, size in enumerate(shape):
    pad = size - x.shape[axis]
    if pad:
      widths = [(0, 0)] * x.ndim
      widths[axis] = (0, pad)
      mode = 'reflect' if axis and x.shape[axis] > pad else 'edge'
      x = np.pad(x, widths, mode=mode)
  return x


def _normal(key, shape) -> np.ndarray:
  """Standard normal noise [*shape] float32 drawn on the host from a jax
  key: the same key gives the same noise, and nothing is compiled (JAX's
  normal sampler took 1-3 s to compile on a CPU)."""
  seed = np.asarray(jax.random.key_data(key), np.uint32).ravel().tolist()
  return np.random.default_rng(seed).standard_normal(shape, np.float32)


def _model_fn(params: InpaintParams,
              fidelity: bool = False) -> whole_photo.ModelFn:
  """(images [B, h, w, 3] in [0, 1], holes [B, h, w], key) -> raw output.

  Inputs are padded to size buckets, so that nearby sizes reuse one
  compiled model.  The mask is padded like the image: the padding is known
  wherever it mirrors known pixels, and a hole where it mirrors a hole.
  """
  factor = params.pad_multiple

  def run(images, holes, key):
    n, h, w = holes.shape
    shape = (_bucket(n), _bucket(h, factor), _bucket(w, factor))
    exe = _executable(params, shape, fidelity)
    xp = _pad(images.astype(np.float32), shape)
    mp = _pad(holes[..., None].astype(np.float32), shape)
    latent = params.networks.inpainter.latent_shape(shape[1], shape[2],
                                                    shape[0])
    # z = mean + exp(logvar / 2) * eps: zero noise is the mean exactly.
    eps = (np.zeros(latent, np.float32) if key is None
           else _normal(key, latent))
    try:
      return np.asarray(exe(params.params, xp, mp, eps))[:n, :h, :w]
    except jax.errors.JaxRuntimeError as e:
      if 'RESOURCE_EXHAUSTED' not in str(e):
        raise
      raise MemoryError(f'image: {n} image(s) of {h}x{w} ran out of device '
                        'memory; pass fewer images per call or downscale '
                        'them.') from e
  return run


def _check_host_memory(need: int, what: str) -> None:
  inputs.check_memory(need, inputs.available_bytes(jax.devices('cpu')[0]),
                      what)


TEXTURES = ('patches', 'network')


def inpaint(params: InpaintParams, image, mask, *, rng=None,
            num_samples: Optional[int] = None, fidelity: bool = False,
            texture: str = 'patches'):
  """Fills the masked pixels of `image`.

  The model runs once per group of holes, cropped around it, at the scale
  where the hole is as large as in training (vaegan_jax/inference/whole_photo.py),
  so time and memory stay bounded; small images with holes of the training
  size are that scale already (one batched call).  Otherwise, with
  texture='patches' (the default), that fill guides a patch search that
  rebuilds the hole from the photo's own patches at every finer scale
  (vaegan_jax/inference/patch_synthesis.py).

  Args:
    params: from `load_params`.
    image: [H, W, 3] or [N, H, W, 3] RGB, uint8 or finite float in [0, 1];
      any H, W >= 1 and N >= 0.  Other channel counts are rejected.
    mask: [H, W], [H, W, 1], [N, H, W] or [N, H, W, 1], bool or numbers;
      hole where mask > 0.5 (True, 1, 255).  Broadcast over the batch when
      unbatched.
    rng: optional jax PRNG key.  Without it (and without num_samples) the
      prior mean is used: one deterministic, best fill.
    num_samples: k completions sampled from the prior, stacked on a new
      leading axis: [k, *image.shape].
    fidelity: the fill best under PSNR / SSIM instead of the one with
      texture (the 'attention' generator without its copied detail:
      smoother, closer on average; docs/quality.md), upsampled scale by
      scale by the model.  Other generators give their default output.
    texture: 'patches': the photo's own patches at every scale, guided by
      the model's fill; 'network': the model's own output at every scale
      (the copied band of the 'attention' generator).  Ignored with
      fidelity=True.
  Returns:
    Same shape and dtype as `image` (with a leading k when num_samples is
    set); pixels outside the mask are bit-identical to the input, and an
    image without a hole comes back unchanged (the model does not run).
  Raises:
    ValueError: a bad argument (see vaegan_jax/inference/inputs.py).
    MemoryError: the images are too large for the free memory.
  """
  orig, single = inputs.check_image(image)
  hole = inputs.hole_mask(mask, np.shape(image))
  inputs.warn_unusual(hole)
  inputs.check_num_samples(num_samples)
  if texture not in TEXTURES:
    raise ValueError(f'texture: {texture!r} is not one of {TEXTURES}.')
  synthesis = (None if fidelity or texture != 'patches'
               else patch_synthesis.Settings())
  k = 1 if num_samples is None else num_samples
  if orig.shape[0] == 0 or not hole.any():
    outs = [np.array(orig[0] if single else orig)] * k
    return np.stack(outs) if num_samples is not None else outs[0]
  n, h, w = orig.shape[:3]
  sampled = num_samples is not None or rng is not None
  model = _model_fn(params, bool(fidelity))
  work = params.image_size
  direct = max(h, w) <= whole_photo.TILE and all(
      whole_photo.is_direct(whole_photo.plan(hole[i], work), (h, w))
      for i in range(n) if hole[i].any())
  if not direct:  # Before any copy of a large image is made.
    _check_host_memory(whole_photo.BYTES_PER_PIXEL * n * h * w,
                       f'{n} image(s) of {h}x{w}')
  x = (orig.astype(np.float32) / 255.0 if orig.dtype == np.uint8
       else orig.astype(np.float32))
  if not sampled:
    keys = [None]
  else:
    keys = list(jax.random.split(
        jax.random.PRNGKey(0) if rng is None else rng, k))
  outs = []
  for key in keys:
    # The patch search's randomness: fixed for the default fill, one
    # stream per sample otherwise.
    skey = (jax.random.PRNGKey(0) if key is None
            else jax.random.fold_in(key, 1))
    if direct:  # At the training scale: the model's fill is the fill.
      raw = model(x, hole, key)
      out = np.stack([whole_photo.seam_correct(raw[i], x[i], hole[i])
                      for i in range(n)])
    else:
      out = np.stack([
          whole_photo.fill(
              model, x[i], hole[i], work_size=work, key=key,
              check_memory=_check_host_memory, synthesis=synthesis,
              synthesis_key=jax.random.fold_in(skey, i)) for i in range(n)])
    if orig.dtype == np.uint8:
      out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    else:
      out = out.astype(orig.dtype)
    done = np.where(hole[..., None], out, orig)
    outs.append(done[0] if single else done)
  return np.stack(outs) if num_samples is not None else outs[0]

"""Public inference API: `load_params` and `inpaint`.

  params = load_params('pretrained/vaegan64')  # or a training workdir
  filled = inpaint(params, image, mask)                     # best single fill
  samples = inpaint(params, image, mask, num_samples=8)     # 8 diverse fills

The command line is vaegan_jax/inference/cli.py (`vaegan-inpaint`).
"""
import dataclasses
import functools
import importlib.resources
import os
from typing import Any, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vaegan_jax.inference import inputs
from vaegan_jax.inference import patch_synthesis
from vaegan_jax.inference import runner
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
  sampled = num_samples is not None or rng is not None
  model = runner.Runner(params, fidelity)
  keys = ([None] if not sampled else list(jax.random.split(
      jax.random.PRNGKey(0) if rng is None else rng, k)))
  # The patch search's randomness: fixed for the default fill, one stream
  # per sample otherwise.
  skeys = [jax.random.PRNGKey(0) if key is None
           else jax.random.fold_in(key, 1) for key in keys]
  filled = whole_photo.fill_batch(
      model, orig, hole, work_size=params.image_size, keys=keys,
      check_memory=_check_host_memory, synthesis=synthesis,
      synthesis_keys=skeys)
  outs = []
  for out in filled:
    if orig.dtype == np.uint8:
      out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    else:
      out = out.astype(orig.dtype, copy=False)
    np.copyto(out, orig, where=~hole[..., None])  # bit-identical outside
    outs.append(out[0] if single else out)
  return np.stack(outs) if num_samples is not None else outs[0]

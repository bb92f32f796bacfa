"""Public inference API: `load_params` and `inpaint`, plus a file CLI.

  params = load_params('workdirs/default')
  filled = inpaint(params, image, mask)                     # best single fill
  samples = inpaint(params, image, mask, num_samples=8)     # 8 diverse fills

Command line (white mask pixels = hole):
  python -m vaegan_jax.inference --workdir W --image in.png --mask m.png \\
      --output out.png [--num_samples K]
"""
import argparse
import dataclasses
import json
from typing import Any, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vaegan_jax import checkpoint
from vaegan_jax import images as image_io
from vaegan_jax import models


@dataclasses.dataclass(frozen=True)
class InpaintParams:
  """What inference needs: generator + prior weights and the architecture."""
  params: Any                         # {'prior': ..., 'generator': ...}
  model_config: ml_collections.ConfigDict
  step: int
  source: str = ''

  @property
  def downsampling_factor(self) -> int:
    return 2 ** self.model_config.num_down


def load_params(workdir: str, *, use_ema: bool = True,
                step: Optional[int] = None) -> InpaintParams:
  """Restores the inference weights (EMA generator if present) of a workdir.

  Args:
    workdir: a directory written by train.py, or a pretrained/<name> one.
    use_ema: take the EMA of the generator weights (recommended).
    step: a specific checkpoint step (default: the latest).
  Returns:
    InpaintParams for `inpaint`; research code needs no config.
  """
  config = checkpoint.read_config(workdir)
  raw, step = checkpoint.restore_raw(workdir, step)
  key = 'ema_params' if use_ema and 'ema_params' in raw else 'g_params'
  try:
    params = {'prior': raw[key]['prior'], 'generator': raw[key]['generator']}
  except KeyError as e:
    raise ValueError(f'workdir={workdir!r}: checkpoint lacks {e}; was it '
                     'written by an incompatible version?') from None
  params = jax.tree_util.tree_map(jnp.asarray, params)
  return InpaintParams(params=params, model_config=config.model, step=step,
                       source=workdir)


def _frozen_model_config(model_config) -> str:
  return json.dumps(model_config.to_dict(), sort_keys=True, default=list)


def _run(frozen_config: str, params, image, mask, eps):
  config = ml_collections.ConfigDict(json.loads(frozen_config))
  nets = models.create_networks(config)
  out = models.complete(nets, params, image * 2.0 - 1.0, mask, eps)
  return (out + 1.0) / 2.0


_run_jit = jax.jit(_run, static_argnums=0)


def _as_float_images(image):
  image = np.asarray(image)
  if image.dtype == np.uint8:
    return image.astype(np.float32) / 255.0
  if not np.issubdtype(image.dtype, np.floating):
    raise ValueError(f'image: dtype {image.dtype} is not supported; expected '
                     'uint8 or float in [0, 1].')
  return image.astype(np.float32)


def _pad_to_multiple(x, factor):
  """Reflect-pads H and W up to multiples of `factor` ([N, H, W, C])."""
  h, w = x.shape[1:3]
  ph, pw = -h % factor, -w % factor
  if not (ph or pw):
    return x
  mode = 'reflect' if (h > ph and w > pw) else 'edge'
  return np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)


def inpaint(params: InpaintParams, image, mask, *, rng=None,
            num_samples: Optional[int] = None):
  """Fills the masked pixels of `image`.

  Args:
    params: from `load_params`.
    image: [H, W, 3] or [N, H, W, 3], uint8 or float in [0, 1]; any H, W.
    mask: [H, W], [H, W, 1], [N, H, W] or [N, H, W, 1], bool or {0, 1};
      1 / True = missing.  Broadcast over the batch when unbatched.
    rng: optional jax PRNG key.  Without it (and without num_samples) the
      prior mean is used: one deterministic, best fill.
    num_samples: k completions sampled from the prior, stacked on a new
      leading axis: [k, *image.shape].
  Returns:
    Same shape and dtype as `image` (with a leading k when num_samples is
    set); pixels outside the mask are bit-identical to the input.
  """
  orig = np.asarray(image)
  if orig.ndim not in (3, 4) or orig.shape[-1] != 3:
    raise ValueError(f'image: shape {orig.shape}; expected [H, W, 3] or '
                     '[N, H, W, 3] (RGB).')
  single = orig.ndim == 3
  x = _as_float_images(orig[None] if single else orig)
  m = np.asarray(mask)
  if m.ndim >= 3 and m.shape[-1] == 1 and m.shape[-3:-1] == x.shape[1:3]:
    m = m[..., 0]
  if m.shape[-2:] != x.shape[1:3] or m.ndim not in (2, 3) or (
      m.ndim == 3 and m.shape[0] != x.shape[0]):
    raise ValueError(f'mask: shape {np.shape(mask)} does not match image '
                     f'shape {orig.shape}; expected [H, W], [H, W, 1] or '
                     'batched [N, H, W(, 1)] with the same H, W.')
  hole = np.broadcast_to(m.astype(bool), x.shape[:3])
  if num_samples is not None and num_samples < 1:
    raise ValueError(f'num_samples: got {num_samples}; expected >= 1.')
  n, h, w = x.shape[:3]
  factor = params.downsampling_factor
  xp = _pad_to_multiple(x, factor)
  mp = _pad_to_multiple(hole[..., None].astype(np.float32), factor)
  latent = models.latent_shape(params.model_config, xp.shape[1], xp.shape[2],
                               n)
  frozen = _frozen_model_config(params.model_config)
  if num_samples is None and rng is None:
    eps_list = [None]
  else:
    key = jax.random.PRNGKey(0) if rng is None else rng
    keys = jax.random.split(key, num_samples or 1)
    eps_list = [jax.random.normal(k, latent) for k in keys]
  outs = []
  for eps in eps_list:
    out = np.asarray(_run_jit(frozen, params.params, xp, mp, eps))[:, :h, :w]
    if orig.dtype == np.uint8:
      out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    else:
      out = out.astype(orig.dtype)
    done = np.where(hole[..., None], out, orig[None] if single else orig)
    outs.append(done[0] if single else done)
  return np.stack(outs) if num_samples is not None else outs[0]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True,
                      help='training workdir or pretrained/<name>')
  parser.add_argument('--image', required=True)
  parser.add_argument('--mask', required=True, help='white = hole')
  parser.add_argument('--output', required=True, help='PNG path')
  parser.add_argument('--num_samples', type=int, default=None)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  params = load_params(args.workdir)
  image = image_io.read_image(args.image)
  mask = image_io.read_mask(args.mask)
  if mask.shape != image.shape[:2]:
    raise ValueError(f'mask: size {mask.shape} differs from image size '
                     f'{image.shape[:2]}; expected the same H, W.')
  if args.num_samples:
    out = inpaint(params, image, mask, num_samples=args.num_samples,
                  rng=jax.random.PRNGKey(args.seed))
    out = np.concatenate(list(out), axis=1)  # samples side by side
  else:
    out = inpaint(params, image, mask)
  image_io.save_png(args.output, out)
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main()

"""Image-quality metrics for evaluation (PSNR and SSIM from dm-pix).

Besides PSNR / SSIM / L1 in the hole, `detail ratio` measures texture: the
gradient energy of the output inside the hole eroded by 2 px, divided by that
of the truth (1.0 = as detailed as the truth; blur -> well below 1, noise ->
above 1).  Erosion keeps the seam between hole and context out of it.

The detail ratio cannot tell texture from artifacts: streaks and speckle add
gradient energy too.  The sliced Wasserstein distance between the local
patches inside the holes of the outputs and of the truths (`hole_patches`,
`swd`; Karras et al. 2018, "Progressive Growing of GANs") can: blur, noise
and repeated artifacts all move the patch distribution away from the
truth's.  Lower is better; 0 for identical sets.
"""
import itertools
from typing import Dict, Sequence, Tuple

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

BUCKETS = ((0.05, 0.2), (0.2, 0.4), (0.4, 0.6))
DETAIL_EROSION = 2  # pixels
# SWD on hole patches, as ProGAN's metrics/sliced_wasserstein.py: 7x7x3
# patches of each Laplacian level down to 16 px, 512 random directions.
SWD_PATCH = 7
SWD_MIN_SIZE = 16
SWD_PATCHES_PER_IMAGE = 64
SWD_PROJECTIONS = 512
SWD_MIN_PATCHES = 32  # fewer at a level (over a set of images): NaN there.
# More at a level: a fixed random subset (sorting 512 projections of 100k
# patches per level, row and bucket takes minutes).
SWD_MAX_PATCHES = 16384
_BINOMIAL = np.outer([1., 4., 6., 4., 1.], [1., 4., 6., 4., 1.]) / 256.0


@jax.jit
def _per_image(output, truth, mask):
  hole = jnp.broadcast_to(mask, output.shape)
  hole_l1 = (jnp.sum(jnp.abs(output - truth) * hole, axis=(1, 2, 3))
             / jnp.maximum(jnp.sum(hole, axis=(1, 2, 3)), 1.0))
  return {
      'psnr': dm_pix.psnr(output, truth),
      'ssim': dm_pix.ssim(output, truth),
      'hole_l1': hole_l1,
      'hole_ratio': jnp.mean(mask, axis=(1, 2, 3)),
  }


def eroded_holes(mask, pixels: int = DETAIL_EROSION) -> np.ndarray:
  """bool [N, H, W]: each hole eroded by `pixels` (3x3 structuring element)."""
  holes = np.asarray(mask).reshape(np.shape(mask)[:3]) > 0.5
  if pixels <= 0:
    return holes
  return np.stack([ndimage.binary_erosion(h, iterations=pixels)
                   for h in holes]) if len(holes) else holes


def gradient_energy(images, region) -> np.ndarray:
  """Sum over `region` of |forward differences|^2 (x and y, all channels).

  Args:
    images: float [N, H, W, C].
    region: bool [N, H, W]; a pixel counts when it and its right / lower
      neighbour are inside the region.
  Returns:
    float64 [N].
  """
  x = np.asarray(images, np.float64)
  region = np.asarray(region, bool)
  dx = np.sum(np.square(x[:, :, 1:] - x[:, :, :-1]), -1)
  dy = np.sum(np.square(x[:, 1:] - x[:, :-1]), -1)
  rx = region[:, :, 1:] & region[:, :, :-1]
  ry = region[:, 1:] & region[:, :-1]
  return np.sum(dx * rx, axis=(1, 2)) + np.sum(dy * ry, axis=(1, 2))


def image_metrics(output, truth, mask) -> Dict[str, np.ndarray]:
  """Per-image metrics of composited outputs.

  Args:
    output, truth: float [N, H, W, 3] in [0, 1].
    mask: [N, H, W, 1], 1 = hole.
  Returns:
    float64 [N] arrays: 'psnr' (dB), 'ssim', 'hole_l1' (mean |error| inside
    the hole, [0, 1] units), 'hole_ratio', and 'detail_output' /
    'detail_truth' (gradient energies inside the eroded hole).
  """
  out = _per_image(jnp.asarray(output, jnp.float32),
                   jnp.asarray(truth, jnp.float32),
                   jnp.asarray(mask, jnp.float32))
  result = {k: np.asarray(v, np.float64) for k, v in out.items()}
  region = eroded_holes(mask)
  result['detail_output'] = gradient_energy(output, region)
  result['detail_truth'] = gradient_energy(truth, region)
  return result


def summarize(per_image: Dict[str, np.ndarray]) -> Dict[str, float]:
  """Means of per-image metrics; detail ratio as a ratio of summed energies."""
  summary = {k: float(np.mean(v)) if len(v) else float('nan')
             for k, v in per_image.items()
             if not k.startswith('detail_')}
  if 'detail_output' in per_image:
    truth = float(np.sum(per_image['detail_truth']))
    summary['detail_ratio'] = (float(np.sum(per_image['detail_output']))
                               / truth if truth > 0 else float('nan'))
  summary['n'] = int(len(next(iter(per_image.values()))))
  return summary


def bucket_indices(hole_ratio: np.ndarray,
                   buckets: Sequence[Tuple[float, float]] = BUCKETS):
  """{'5-20%': indices, ...}: images whose hole ratio lies in [lo, hi)."""
  return {f'{round(100 * lo)}-{round(100 * hi)}%':
          np.nonzero((hole_ratio >= lo) & (hole_ratio < hi))[0]
          for lo, hi in buckets}


def diversity(samples, truth, mask) -> Dict[str, np.ndarray]:
  """Diversity of k samples of the same inputs.

  Args:
    samples: float [k, N, H, W, 3] in [0, 1], k >= 2.
    truth: float [N, H, W, 3]; mask: [N, H, W, 1], 1 = hole.
  Returns:
    'pairwise_hole_l1' [N]: mean over sample pairs of mean |a - b| in the
    hole; 'best_psnr' [N]: PSNR of the sample closest to the truth.
  """
  samples = np.asarray(samples, np.float32)
  hole = np.broadcast_to(np.asarray(mask) > 0.5, samples.shape[1:])
  area = np.maximum(hole.sum(axis=(1, 2, 3)), 1)
  pairs = [np.sum(np.abs(samples[a] - samples[b]) * hole, axis=(1, 2, 3))
           / area
           for a, b in itertools.combinations(range(len(samples)), 2)]
  psnrs = np.stack([np.asarray(dm_pix.psnr(jnp.asarray(s), jnp.asarray(
      truth, jnp.float32))) for s in samples])
  return {'pairwise_hole_l1': np.mean(pairs, axis=0).astype(np.float64),
          'best_psnr': psnrs.max(axis=0).astype(np.float64)}


def _convolve(x, kernel):
  """[H, W, C] per channel, mirrored borders (cv2.pyrDown / pyrUp's)."""
  return ndimage.convolve(x, kernel[..., None], mode='mirror')


def laplacian_pyramid(image, min_size: int = SWD_MIN_SIZE):
  """Levels of a Laplacian pyramid (5x5 binomial filter), finest first.

  Args:
    image: float [H, W, C].
    min_size: the coarsest level is the last one whose short side is at
      least this (the full image is always level 0).
  Returns:
    list of float32 [ceil(H / 2**l), ceil(W / 2**l), C]: band-pass levels,
    then the low-pass residual as the last one.
  """
  levels = [np.asarray(image, np.float32)]
  while min(levels[-1].shape[:2]) // 2 >= min_size:
    levels.append(_convolve(levels[-1], _BINOMIAL)[::2, ::2])
  for l in range(len(levels) - 1):
    up = np.zeros_like(levels[l])
    up[::2, ::2] = levels[l + 1]
    levels[l] = levels[l] - _convolve(up, 4.0 * _BINOMIAL)
  return levels


def _mask_pyramid(hole, num_levels: int):
  """bool [H, W] -> per level: pixels at least half inside the hole."""
  area = [np.asarray(hole, np.float32)]
  for _ in range(1, num_levels):
    a = area[-1]
    h, w = a.shape
    a = np.pad(a, ((0, h % 2), (0, w % 2)), mode='edge')
    area.append(0.25 * (a[0::2, 0::2] + a[0::2, 1::2] + a[1::2, 0::2]
                        + a[1::2, 1::2]))
  return [a >= 0.5 for a in area]


def hole_patches(images, masks, *, per_image: int = SWD_PATCHES_PER_IMAGE,
                 seed: int = 0, min_size: int = SWD_MIN_SIZE):
  """7x7x3 patches of each Laplacian level, wholly inside the hole.

  Patch centres are drawn per image from the mask alone (seeded by `seed`
  and the image's index), so outputs and truths with the same masks give
  patches at the same places, and so do all methods.

  Args:
    images: float [N, H, W, 3] in [0, 1], or a sequence of [H_i, W_i, 3].
    masks: [N, H, W(, 1)] or a sequence of [H_i, W_i(, 1)], > 0.5 = hole.
    per_image: patches per image and level (drawn with replacement from the
      eligible centres; none where no patch fits inside the hole).
  Returns:
    list over levels (finest first) of (float32 [n, 147] patches,
    int [n] index of the image each came from).
  """
  half = SWD_PATCH // 2
  offsets = np.arange(-half, half + 1)
  per_level = []
  for i, (image, mask) in enumerate(zip(images, masks)):
    hole = np.asarray(mask).reshape(np.shape(image)[:2]) > 0.5
    # ProGAN's scale: uint8 levels.
    pyramid = laplacian_pyramid(np.asarray(image, np.float32) * 255.0,
                                min_size)
    rng = np.random.default_rng([seed, i])
    for l, (level, level_hole) in enumerate(
        zip(pyramid, _mask_pyramid(hole, len(pyramid)))):
      while len(per_level) <= l:
        per_level.append(([], []))
      inside = ndimage.binary_erosion(
          level_hole, np.ones((SWD_PATCH, SWD_PATCH), bool),
          border_value=0)
      ys, xs = np.nonzero(inside)
      if not len(ys):
        continue
      pick = rng.integers(0, len(ys), per_image)
      y = ys[pick][:, None, None] + offsets[None, :, None]
      x = xs[pick][:, None, None] + offsets[None, None, :]
      per_level[l][0].append(level[y, x].reshape(per_image, -1))
      per_level[l][1].append(np.full(per_image, i))
  return [(np.concatenate(p) if p else np.zeros((0, 3 * SWD_PATCH ** 2),
                                                 np.float32),
           np.concatenate(o) if o else np.zeros((0,), int))
          for p, o in per_level]


def sliced_wasserstein(a, b, *, num_projections: int = SWD_PROJECTIONS,
                       seed: int = 0) -> float:
  """Mean |sorted projection of a - sorted projection of b| over directions.

  Args:
    a, b: float [n, d] point sets of equal size.
    num_projections: random unit directions, fixed by `seed`.
  """
  a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
  if a.shape != b.shape or a.ndim != 2:
    raise ValueError(f'sets of equal shape [n, d] needed, got {a.shape} and '
                     f'{b.shape}.')
  dirs = np.random.default_rng(seed).standard_normal((a.shape[1],
                                                      num_projections))
  dirs = (dirs / np.linalg.norm(dirs, axis=0, keepdims=True)).astype(
      np.float32)
  return float(np.mean(np.abs(np.sort(a @ dirs, axis=0)
                              - np.sort(b @ dirs, axis=0)), dtype=np.float64))


def swd(output_patches, truth_patches, images=None) -> Dict[str, float]:
  """SWD x 1e3 between hole patches of outputs and truths, per level.

  Each of the 147 patch dimensions is normalised by the truths' mean and
  standard deviation at that level.  (ProGAN normalises each set by its own
  per-channel statistics, which would rescale a blurred fill back to the
  truth's contrast: with one shared normalisation, blur scores as blur.)

  Args:
    output_patches, truth_patches: `hole_patches` of the outputs and of the
      truths (same masks, same seed).
    images: optional indices of the images to use (a bucket).
  Returns:
    {'swd_x1': finest level, 'swd_x2', ...: SWD x 1e3 per level (NaN where
    fewer than SWD_MIN_PATCHES patches fit in the holes; a fixed subset of
    SWD_MAX_PATCHES where more do), 'swd': their mean over the levels that
    have a value}.
  """
  out = {}
  for l, ((po, io), (pt, it)) in enumerate(zip(output_patches,
                                                truth_patches)):
    if not np.array_equal(io, it):
      raise ValueError('output and truth patches come from different masks.')
    keep = np.isin(it, images) if images is not None else np.ones(len(it),
                                                                  bool)
    key = f'swd_x{2 ** l}'
    if keep.sum() < SWD_MIN_PATCHES:
      out[key] = float('nan')
      continue
    keep = np.nonzero(keep)[0]
    if len(keep) > SWD_MAX_PATCHES:
      keep = np.sort(np.random.default_rng(l).choice(keep, SWD_MAX_PATCHES,
                                                     replace=False))
    t, o = pt[keep].astype(np.float64), po[keep].astype(np.float64)
    mean, std = t.mean(0), np.maximum(t.std(0), 0.5)
    out[key] = 1e3 * sliced_wasserstein((o - mean) / std, (t - mean) / std)
  values = [v for v in out.values() if np.isfinite(v)]
  out['swd'] = float(np.mean(values)) if values else float('nan')
  return out

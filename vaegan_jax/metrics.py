"""Image-quality metrics for evaluation (PSNR and SSIM from dm-pix).

Besides PSNR / SSIM / L1 in the hole, `detail ratio` measures texture: the
gradient energy of the output inside the hole eroded by 2 px, divided by that
of the truth (1.0 = as detailed as the truth; blur -> well below 1, noise ->
above 1).  Erosion keeps the seam between hole and context out of it.
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

"""Image-quality metrics for evaluation (PSNR and SSIM from dm-pix)."""
from typing import Dict

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np


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


def image_metrics(output, truth, mask) -> Dict[str, np.ndarray]:
  """Per-image metrics of composited outputs.

  Args:
    output, truth: float [N, H, W, 3] in [0, 1].
    mask: [N, H, W, 1], 1 = hole.
  Returns:
    {'psnr' (dB), 'ssim', 'hole_l1' (mean |error| inside the hole, [0, 1]
    units), 'hole_ratio'}: each float64 [N].
  """
  out = _per_image(jnp.asarray(output, jnp.float32),
                   jnp.asarray(truth, jnp.float32),
                   jnp.asarray(mask, jnp.float32))
  return {k: np.asarray(v, np.float64) for k, v in out.items()}


def summarize(per_image: Dict[str, np.ndarray]) -> Dict[str, float]:
  """Mean of every per-image metric."""
  return {k: float(np.mean(v)) for k, v in per_image.items()}

"""Classical inpainting baselines: OpenCV Telea / Navier-Stokes, biharmonic, mean.

These are what a CPU user would otherwise reach for; eval.py scores them
side by side with the model on the same images and masks.  'pyramid' and
'harmonic' are the parameter-free fills the generator can start from
(models.pyramid_fill, models.harmonic_fill).
"""
from typing import Callable, Dict

import numpy as np

METHODS = ('telea', 'navier_stokes', 'biharmonic', 'mean', 'pyramid',
           'harmonic')
_CV2_RADIUS = 3  # OpenCV's usual neighbourhood radius, in pixels.


def _cv2(flag_name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
  def fn(image, hole):
    import cv2  # pylint: disable=g-import-not-at-top
    u8 = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    out = cv2.inpaint(u8, hole.astype(np.uint8), _CV2_RADIUS,
                      getattr(cv2, flag_name))
    return out.astype(np.float32) / 255.0
  return fn


def _biharmonic(image, hole):
  from skimage.restoration import inpaint_biharmonic  # pylint: disable=g-import-not-at-top
  return inpaint_biharmonic(image, hole, channel_axis=-1).astype(np.float32)


def _mean(image, hole):
  visible = image[~hole]
  fill = visible.mean(axis=0) if visible.size else np.full(3, 0.5)
  return np.broadcast_to(fill, image.shape).astype(np.float32)


def _pyramid(image, hole):
  # The model's own starting point (models.pyramid_fill): what G adds to it
  # is the difference between this row and the model's.
  from vaegan_jax import models  # pylint: disable=g-import-not-at-top
  mask = hole[None, ..., None].astype(np.float32)
  return np.asarray(models.pyramid_fill(image[None] * (1 - mask), mask))[0]


def _harmonic(image, hole):
  from vaegan_jax import models  # pylint: disable=g-import-not-at-top
  mask = hole[None, ..., None].astype(np.float32)
  return np.asarray(models.harmonic_fill(image[None] * (1 - mask), mask))[0]


_FNS: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    'telea': _cv2('INPAINT_TELEA'),
    'navier_stokes': _cv2('INPAINT_NS'),
    'biharmonic': _biharmonic,
    'mean': _mean,
    'pyramid': _pyramid,
    'harmonic': _harmonic,
}


def inpaint_classical(method: str, images, masks) -> np.ndarray:
  """Inpaints a batch with a classical method, composited.

  Args:
    method: one of METHODS.
    images: float [N, H, W, 3] in [0, 1].
    masks: [N, H, W, 1] or [N, H, W], 1 = hole.
  Returns:
    float32 [N, H, W, 3] in [0, 1]; known pixels equal the input.
  """
  if method not in _FNS:
    raise ValueError(f'method: {method!r} is not one of {METHODS}.')
  images = np.asarray(images, np.float32)
  holes = np.asarray(masks).reshape(images.shape[:3]) > 0.5
  out = np.empty_like(images)
  for i, (image, hole) in enumerate(zip(images, holes)):
    filled = _FNS[method](image, hole) if hole.any() else image
    out[i] = np.where(hole[..., None], np.clip(filled, 0.0, 1.0), image)
  return out


def parse_methods(spec: str):
  """'all' | 'none' | 'telea,biharmonic' -> tuple of method names."""
  if spec in ('', 'none'):
    return ()
  if spec == 'all':
    return METHODS
  names = tuple(s.strip() for s in spec.split(',') if s.strip())
  unknown = [n for n in names if n not in METHODS]
  if unknown:
    raise ValueError(f'--baselines: unknown {unknown}; choose from '
                     f"{METHODS}, 'all' or 'none'.")
  return names

"""Classical inpainting baselines and reference rows for the eval tables.

These are what a CPU user would otherwise reach for; eval.py scores them
side by side with the model on the same images and masks:
  telea, navier_stokes  OpenCV's diffusion fills;
  biharmonic            scikit-image's smooth fill;
  mean                  the mean visible colour;
  shiftmap              OpenCV's exemplar-based shift-map (cv2.xphoto): the
                        classical method that copies real texture;
  patchmatch            PatchMatch (Barnes et al. 2009, pypatchmatch): the
                        other texture copier, nearest patches found by a
                        randomised search; 7 x 7 patches (patch_size=3, a
                        radius), seed 0, so every run gives the same row;
  oracle                NOT a method (it reads the hidden pixels): biharmonic
                        plus the truth's own high band T - gauss(T, 2),
                        shifted by half the image.  Truth-like texture at a
                        phase nobody can know: what such texture costs in
                        PSNR and scores in SWD;
  pyramid, harmonic     the parameter-free fills the generator can start from
                        (fills.pyramid_fill, fills.harmonic_fill).
"""
import functools
from typing import Callable, Dict

import numpy as np
from scipy import ndimage

METHODS = ('telea', 'navier_stokes', 'biharmonic', 'mean', 'shiftmap',
           'patchmatch', 'oracle', 'pyramid', 'harmonic')
ORACLE_SIGMA = 2.0  # pixels: the oracle's texture band.
_CV2_RADIUS = 3  # OpenCV's usual neighbourhood radius, in pixels.
# pypatchmatch's patch_size is a radius: 3 compares 7 x 7 patches (its best
# on the held-out 256 px crops; docs/quality.md has radius 3, 5 and 7).
PATCHMATCH_PATCH_SIZE = 3
PATCHMATCH_SEED = 0


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


def _shiftmap(image, hole):
  import cv2  # pylint: disable=g-import-not-at-top
  # Shift-map works in Lab (as OpenCV's xphoto inpainting sample does);
  # its mask marks the known pixels.
  u8 = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
  lab = cv2.cvtColor(u8, cv2.COLOR_RGB2Lab)
  out = np.zeros_like(lab)
  cv2.xphoto.inpaint(lab, (~hole).astype(np.uint8) * 255, out,
                     cv2.xphoto.INPAINT_SHIFTMAP)
  rgb = cv2.cvtColor(out, cv2.COLOR_Lab2RGB)
  # On small images it leaves some hole pixels unlabelled (Lab 0, 0, 0):
  # those get Telea's fill, so that the row shows shift-map, not its gaps.
  unfilled = np.all(out == 0, axis=-1) & hole
  if unfilled.any():
    rgb[unfilled] = cv2.inpaint(u8, hole.astype(np.uint8), _CV2_RADIUS,
                                cv2.INPAINT_TELEA)[unfilled]
  return rgb.astype(np.float32) / 255.0


def patchmatch(image, hole, radius: int = PATCHMATCH_PATCH_SIZE):
  """pypatchmatch's fill of float [H, W, 3] (radius: its patch_size)."""
  try:
    import patchmatch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        "The 'patchmatch' baseline needs pypatchmatch: "
        'pip install pypatchmatch==2.2.0') from e
  if not patchmatch.patchmatch_available:
    raise RuntimeError(
        "The 'patchmatch' baseline: pypatchmatch is installed but its native "
        'library did not load (no wheel for this platform?).')
  u8 = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
  # The search is randomised.  Each inpainting restarts from the library's
  # seed, which is process-wide state: set it on every call, so that a row
  # does not depend on whoever ran before.
  patchmatch.set_random_seed(PATCHMATCH_SEED)
  out = patchmatch.inpaint(u8, hole.astype(np.uint8),  # Non-zero = hole.
                           patch_size=radius)
  return out.astype(np.float32) / 255.0


def lowpass(image, sigma: float) -> np.ndarray:
  """gauss(image, sigma) over H, W of float [H, W, C] (reflected borders)."""
  return ndimage.gaussian_filter(image, (sigma, sigma, 0), mode='reflect')


def shifted_band(image, sigma: float) -> np.ndarray:
  """The high band image - gauss(image, sigma), rolled by half the image."""
  h, w = image.shape[:2]
  return np.roll(image - lowpass(image, sigma), (h // 2, w // 2), (0, 1))


def _oracle(image, hole):
  return _biharmonic(image, hole) + shifted_band(image, ORACLE_SIGMA)


def _mean(image, hole):
  visible = image[~hole]
  fill = visible.mean(axis=0) if visible.size else np.full(3, 0.5)
  return np.broadcast_to(fill, image.shape).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _jitted_fill(name: str):
  # Jitted: eager dispatch cost 0.15 s per 64 px crop; compiled once per
  # shape, a crop takes milliseconds.
  import jax  # pylint: disable=g-import-not-at-top
  from vaegan_jax.models import fills  # pylint: disable=g-import-not-at-top
  return jax.jit(getattr(fills, name))


def _fill_row(name: str):
  def fill(image, hole):
    mask = hole[None, ..., None].astype(np.float32)
    return np.asarray(_jitted_fill(name)(image[None] * (1 - mask), mask))[0]
  return fill


# The model's own starting points (fills.py): what G adds to them is the
# difference between these rows and the model's.
_pyramid = _fill_row('pyramid_fill')
_harmonic = _fill_row('harmonic_fill')


_FNS: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    'telea': _cv2('INPAINT_TELEA'),
    'navier_stokes': _cv2('INPAINT_NS'),
    'biharmonic': _biharmonic,
    'mean': _mean,
    'shiftmap': _shiftmap,
    'patchmatch': patchmatch,
    'oracle': _oracle,
    'pyramid': _pyramid,
    'harmonic': _harmonic,
}


def inpaint_classical(method: str, images, masks) -> np.ndarray:
  """Inpaints a batch with a classical method, composited.

  Args:
    method: one of METHODS.
    images: float [N, H, W, 3] in [0, 1], or a sequence of [H_i, W_i, 3].
    masks: [N, H, W, 1] or [N, H, W] (or a sequence), 1 = hole.
  Returns:
    float32 [N, H, W, 3] in [0, 1] (a list for a sequence of sizes); known
    pixels equal the input.
  """
  if method not in _FNS:
    raise ValueError(f'method: {method!r} is not one of {METHODS}.')
  out = []
  for image, mask in zip(images, masks):
    image = np.asarray(image, np.float32)
    hole = np.asarray(mask).reshape(image.shape[:2]) > 0.5
    filled = _FNS[method](image, hole) if hole.any() else image
    out.append(np.where(hole[..., None], np.clip(filled, 0.0, 1.0), image))
  if isinstance(images, np.ndarray):
    return np.stack(out) if out else np.zeros(images.shape, np.float32)
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

"""Checks of `inpaint`'s inputs: a clear ValueError, or arrays it can use.

Each error names the argument, what was given and what is expected.

  image: [H, W, 3] or [N, H, W, 3] RGB; uint8 (0..255) or float16/32/64 in
    [0, 1], finite everywhere (hole pixels too).  Other channel counts
    (grayscale, gray+alpha, RGBA) are rejected, never guessed at: an array
    does not say what its channels mean, and the output must have the
    input's shape.  The message shows the conversion.  Image files are
    converted to RGB when read (image_io.read_image, the data pipeline).
  mask: [H, W], [H, W, 1], [N, H, W] or [N, H, W, 1]; bool, integer or
    float.  One rule for arrays and mask files (`hole_mask`): integer masks
    with values above 1 are on the 0..255 scale (0..65535 for wider ones)
    and are divided by it; then a pixel is a hole where mask > 0.5.  So
    True, 1, 255 and 1.0 all mark holes, a 0/1 label PNG works like a
    black/white one, and a soft or anti-aliased mask is cut at half.
"""
import os
import warnings
from typing import Optional, Tuple

import numpy as np

HOLE_THRESHOLD = 0.5
# Above this hole fraction the mask is probably inverted (white = hole).
LARGE_HOLE = 0.6
_CHANNEL_HINTS = {
    1: 'grayscale is not converted; repeat it: np.repeat(image, 3, -1)',
    2: 'gray + alpha is not converted; use np.repeat(image[..., :1], 3, -1)',
    4: 'RGBA is not converted; drop (image[..., :3]) or composite the alpha',
}


def bucket(n: int, factor: int = 1) -> int:
  """The padded size of a side of n: one of a few sizes per octave.

  The smallest factor * q >= n where q is 1, 2, 3, 4 or m * 2**e with
  m in {4, 5, 6, 7}.  With factor 8 the sizes are 8, 16, 24, 32, 40, 48,
  56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, ...: at most four per
  octave, so nearby sizes share compiled code, and a side grows by less
  than 25% over the next multiple of factor (powers of two stay as they
  are).  factor 1 gives the batch sizes 1..8, 10, 12, 14, 16, 20, 24, ...
  The model pads to its size multiple, the patch search to 16.
  """
  q = -(-int(n) // factor)
  if q > 4:
    e = q.bit_length() - 3
    q = -(-q // (1 << e)) << e
  return q * factor


def _describe(x: np.ndarray) -> str:
  return f'shape {x.shape} dtype {x.dtype}'


def check_image(image) -> Tuple[np.ndarray, bool]:
  """Validates `image`; returns (a batched [N, H, W, 3] view, was unbatched)."""
  try:
    x = np.asarray(image)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'image: cannot be read as an array ({e}); expected '
                     'uint8 or float [H, W, 3] or [N, H, W, 3].') from None
  if x.ndim == 2:
    raise ValueError(f'image: {_describe(x)} looks like a grayscale [H, W] '
                     'image; expected RGB [H, W, 3] or [N, H, W, 3]: '
                     'np.repeat(image[..., None], 3, -1).')
  if x.ndim not in (3, 4):
    raise ValueError(f'image: {_describe(x)}; expected [H, W, 3] or '
                     '[N, H, W, 3] (RGB).')
  if x.shape[-1] != 3:
    hint = _CHANNEL_HINTS.get(x.shape[-1], 'expected 3 (RGB)')
    raise ValueError(f'image: {_describe(x)} has {x.shape[-1]} channels; '
                     f'expected [H, W, 3] or [N, H, W, 3] RGB; {hint}.')
  if 0 in x.shape[-3:-1]:
    raise ValueError(f'image: {_describe(x)} is empty; expected H, W >= 1.')
  if x.dtype != np.uint8:
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
      raise ValueError(
          f'image: dtype {x.dtype} is not supported; expected uint8 (0..255) '
          'or float in [0, 1]; convert, e.g. image.astype(np.uint8) for '
          '8-bit values or image / 65535 for 16-bit ones.')
    if not np.issubdtype(x.dtype, np.floating):
      raise ValueError(f'image: dtype {x.dtype} is not supported; expected '
                       'uint8 (0..255) or float in [0, 1].')
    finite = np.isfinite(x)
    if not finite.all():
      raise ValueError(
          f'image: {x.size - np.count_nonzero(finite)} NaN or inf values; '
          'expected finite values in [0, 1] everywhere (set hole pixels to '
          '0 rather than NaN).')
    lo, hi = float(x.min(initial=0.0)), float(x.max(initial=0.0))
    if lo < 0.0 or hi > 1.0:
      raise ValueError(
          f'image: float values in [{lo!r}, {hi!r}]; expected [0, 1] (divide '
          '0..255 data by 255, or np.clip(image, 0, 1)).')
  single = x.ndim == 3
  return (x[None] if single else x), single


def hole_mask(mask, image_shape: Tuple[int, ...]) -> np.ndarray:
  """Validates `mask` against the image's shape; returns bool [N, H, W].

  Args:
    mask: see the module docstring.
    image_shape: the shape of the image as given, [H, W, 3] or [N, H, W, 3].
  """
  try:
    m = np.asarray(mask)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'mask: cannot be read as an array ({e}).') from None
  if not (m.dtype == bool or np.issubdtype(m.dtype, np.integer)
          or np.issubdtype(m.dtype, np.floating)):
    raise ValueError(f'mask: dtype {m.dtype} is not supported; expected bool, '
                     'integer or float (hole where mask > 0.5).')
  n, h, w = (1,) + tuple(image_shape[:2]) if len(image_shape) == 3 else tuple(
      image_shape[:3])
  if m.ndim >= 3 and m.shape[-1] == 1 and m.shape[-3:-1] == (h, w):
    m = m[..., 0]
  if m.shape[-2:] != (h, w) or m.ndim not in (2, 3) or (
      m.ndim == 3 and m.shape[0] != n):
    hint = ('; a colour mask needs one channel, e.g. mask[..., 0]'
            if np.ndim(mask) >= 3 and np.shape(mask)[-1] in (3, 4) else '')
    raise ValueError(
        f'mask: shape {np.shape(mask)} does not match image shape '
        f'{tuple(image_shape)}; expected [H, W], [H, W, 1], [N, H, W] or '
        f'[N, H, W, 1] with H, W = {h}, {w} (and N = {n}){hint}.')
  if m.dtype != bool and np.issubdtype(m.dtype, np.floating) and not (
      np.isfinite(m).all()):
    raise ValueError('mask: has NaN or inf values; expected finite values '
                     '(hole where mask > 0.5).')
  return np.broadcast_to(holes(m), (n, h, w))


def holes(mask: np.ndarray) -> np.ndarray:
  """The hole rule (module docstring): bool array of `mask`'s shape."""
  if mask.dtype == bool:
    return mask
  if np.issubdtype(mask.dtype, np.integer) and mask.size and mask.max() > 1:
    scale = 255 if mask.max() <= 255 else np.iinfo(mask.dtype).max
    return mask > HOLE_THRESHOLD * scale
  return mask > HOLE_THRESHOLD


def warn_unusual(hole: np.ndarray) -> None:
  """Warns when a bool [N, H, W] hole mask has no hole, or is mostly hole."""
  fractions = hole.mean(axis=(1, 2)) if hole.size else ()
  for i, fraction in enumerate(fractions):
    which = f'mask {i}' if len(hole) > 1 else 'mask'
    if fraction == 0:
      warnings.warn(f'{which}: no hole pixels (white = hole), so the output '
                    'equals the input.', stacklevel=3)
    elif fraction > LARGE_HOLE:
      warnings.warn(f'{which}: {fraction:.0%} of the image is hole; is it '
                    'inverted? White (or 1, True) marks the hole.',
                    stacklevel=3)


def check_num_samples(num_samples) -> None:
  if num_samples is None:
    return
  if isinstance(num_samples, bool) or not isinstance(
      num_samples, (int, np.integer)) or num_samples < 1:
    raise ValueError(f'num_samples: got {num_samples!r}; expected None or an '
                     'int >= 1.')


def available_bytes(device) -> Optional[int]:
  """Free memory of a JAX device; host memory for CPU devices (or None)."""
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if stats and 'bytes_limit' in stats:
    return int(stats['bytes_limit']) - int(stats.get('bytes_in_use', 0))
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  try:
    return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
  except (ValueError, OSError, AttributeError):
    return None


def check_memory(need: int, available: Optional[int], what: str) -> None:
  """MemoryError with advice when `need` bytes exceed `available`."""
  if available is not None and need > available:
    raise MemoryError(
        f'image: {what} needs about {need / 2**30:.1f} GiB for inpainting, '
        f'but only {available / 2**30:.1f} GiB are free; pass fewer images '
        'per call, downscale the image, or inpaint a crop around the hole.')

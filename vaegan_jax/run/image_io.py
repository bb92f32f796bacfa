"""Image grids and PNG I/O for samples, summaries and the CLI."""
import io
from typing import Sequence

from etils import epath
import numpy as np
from PIL import Image


def to_uint8(x) -> np.ndarray:
  """Float in [0, 1] -> uint8 (rounded, clipped)."""
  return np.clip(np.round(np.asarray(x, np.float32) * 255.0), 0, 255).astype(
      np.uint8)


def make_grid(columns: Sequence[np.ndarray], pad: int = 2) -> np.ndarray:
  """Lays out columns of images side by side, one example per row.

  Args:
    columns: each [N, H, W, 3] float in [0, 1] (e.g. masked | output | truth).
    pad: white border in pixels.
  Returns:
    uint8 [N * (H + pad) + pad, C * (W + pad) + pad, 3].
  """
  cols = [np.asarray(c, np.float32) for c in columns]
  n, h, w, _ = cols[0].shape
  grid = np.ones((n * (h + pad) + pad, len(cols) * (w + pad) + pad, 3),
                 np.float32)
  for j, col in enumerate(cols):
    for i in range(n):
      y, x = pad + i * (h + pad), pad + j * (w + pad)
      grid[y:y + h, x:x + w] = col[i]
  return to_uint8(grid)


def save_png(path, image: np.ndarray) -> None:
  """Saves uint8 [H, W, 3] (or float in [0, 1]); path may be gs://.

  PNG unless the extension names another format PIL writes (.jpg, ...).
  """
  if image.dtype != np.uint8:
    image = to_uint8(image)
  path = epath.Path(path)
  fmt = Image.registered_extensions().get(path.suffix.lower(), 'PNG')
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format=fmt)
  path.write_bytes(buffer.getvalue())


def _to_8bit(im: Image.Image) -> Image.Image:
  """16/32-bit grayscale scaled to 8 bits (PIL's convert would clip at 255)."""
  if im.mode.startswith('I'):
    x = np.asarray(im).astype(np.float64)
    scale = 257.0 if x.max(initial=0) <= 65535 else 16843009.0
    return Image.fromarray(np.clip(np.round(x / scale), 0, 255).astype(
        np.uint8))
  return im


def read_image(path: str) -> np.ndarray:
  """Reads any PIL-readable image as uint8 [H, W, 3].

  Grayscale is repeated to RGB, palette images are expanded, alpha is
  dropped, and 16-bit images are scaled to 8 bits.
  """
  with Image.open(path) as im:
    return np.asarray(_to_8bit(im).convert('RGB'))


def read_mask(path: str) -> np.ndarray:
  """Reads a mask image as uint8 [H, W] gray levels.

  `inpaint` decides what is hole (inference.inputs: white, or 1 in a 0/1
  label image).
  """
  with Image.open(path) as im:
    return np.asarray(_to_8bit(im).convert('L'))

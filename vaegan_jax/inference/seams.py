"""Seams: a fill made elsewhere meets the visible pixels without a step.

`seam_correct` adds to a fill a smooth field that matches the colours just
outside the hole (push-pull, then Jacobi steps of Laplace's equation), so a
copied patch or a network fill keeps its detail but loses any colour shift
at the border.  The jitted pieces are padded to a few sizes (powers of
two, multiples of 256 past 512), so few compiled programs serve every
region.

Images float32 [H, W, 3] in [0, 1]; holes bool [H, W] (True = missing).
"""
import functools
from typing import Tuple

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from vaegan_jax.models import fills

def _padded_shape(h: int, w: int) -> Tuple[int, int]:
  """Padded to powers of two (at least 32), or past 512 to a multiple of
  256 (a 1100 px side would be 2048, nearly 4x the work): few compiled
  programs serve every region."""
  def side(n):
    if n > 512:
      return -(-int(n) // 256) * 256
    return max(32, 1 << (int(n) - 1).bit_length())
  return tuple(side(n) for n in (h, w))


def push_pull(values: np.ndarray, known: np.ndarray) -> np.ndarray:
  """Smooth interpolation of values [h, w, c] from the `known` pixels: the
  model's own parameter-free fill (models/fills.py), padded by
  _padded_shape."""
  h, w = known.shape
  shape = _padded_shape(h, w)
  v = np.zeros(shape + values.shape[2:], np.float32)
  v[:h, :w] = values
  missing = np.ones((1,) + shape + (1,), np.float32)
  missing[0, :h, :w, 0] = ~known
  program = _compiled('push_pull', shape, v.shape[-1])
  return np.asarray(program(v[None], missing))[0, :h, :w]


@functools.partial(jax.jit, static_argnames='iterations')
def _jacobi(field, free, hw, *, iterations: int):
  # The neighbours' indices are clamped to the region's own size hw (the
  # rest is padding), as an edge-padded array of that size would give.
  ys, xs = jnp.arange(field.shape[0]), jnp.arange(field.shape[1])
  up, down = jnp.maximum(ys - 1, 0), jnp.minimum(ys + 1, hw[0] - 1)
  left, right = jnp.maximum(xs - 1, 0), jnp.minimum(xs + 1, hw[1] - 1)

  def step(_, f):
    mean = (f[up] + f[down] + f[:, left] + f[:, right]) / 4.0
    return jnp.where(free, mean, f)
  return jax.lax.fori_loop(0, iterations, step, field)


def relax(field: np.ndarray, free: np.ndarray, iterations: int) -> np.ndarray:
  """`iterations` Jacobi steps of Laplace's equation on field [h, w, c]:
  the `free` pixels [h, w] become the mean of their 4 neighbours (the
  border extended), the rest stay.  Padded by _padded_shape."""
  h, w = free.shape
  shape = _padded_shape(h, w)
  f = np.zeros(shape + field.shape[2:], np.float32)
  f[:h, :w] = field
  m = np.zeros(shape + (1,), bool)
  m[:h, :w, 0] = free
  program = _compiled('relax', shape, f.shape[-1], iterations)
  return np.asarray(program(f, m, np.array([h, w], np.int32)))[:h, :w]


# A compiled program holds hundreds of memory maps on a CPU and a process
# may hold 65530: a long-running one (the page, a folder) meets many region
# sizes, so only the programs of the last few are kept.
@functools.lru_cache(maxsize=16)
def _compiled(kind: str, shape: Tuple[int, int], channels: int,
              iterations: int = 0):
  """push_pull's or relax's program for a padded shape."""
  spec = lambda *s, dtype=jnp.float32: jax.ShapeDtypeStruct(s, dtype)
  if kind == 'push_pull':
    return jax.jit(fills.pyramid_fill).lower(
        spec(1, *shape, channels), spec(1, *shape, 1)).compile()
  return _jacobi.lower(spec(*shape, channels), spec(*shape, 1, dtype=bool),
                       spec(2, dtype=jnp.int32),
                       iterations=iterations).compile()


def seam_correct(out: np.ndarray, image: np.ndarray, hole: np.ndarray,
                 ring: int = 2, iterations: int = 30) -> np.ndarray:
  """`out` in the hole, plus a smooth field that removes the seam.

  Along the hole's inner edge (`ring` pixels) the field is the difference
  between the visible colours around the hole (extended a few pixels in)
  and `out`; inside, it is interpolated smoothly (push-pull, Jacobi steps
  of Laplace's equation, a Gaussian of sigma `ring`).  So the fill meets
  the visible pixels without a step or a colour shift, and its own detail
  (the texture) is kept.  Returns the composited image.
  """
  if not hole.any():
    return image.copy()
  grown = ndimage.binary_dilation(hole, iterations=ring + 1)
  ys, xs = np.nonzero(grown)
  sl = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
  h = hole[sl]
  outer = ndimage.binary_dilation(h, iterations=ring) & ~h
  inner = h & ndimage.binary_dilation(~h, iterations=ring, border_value=0)
  if not outer.any():
    return np.where(hole[..., None], out, image)
  ext = push_pull(image[sl].astype(np.float32), outer)
  diff = np.where(inner[..., None], ext - out[sl], 0.0).astype(np.float32)
  field = push_pull(diff, inner) if inner.any() else np.zeros_like(diff)
  field = relax(field, h & ~inner, iterations)
  field = cv2.GaussianBlur(field, (0, 0), ring).reshape(diff.shape)
  result = np.where(hole[..., None], out, image).astype(np.float32)
  result[sl] = np.where(h[..., None], np.clip(out[sl] + field, 0.0, 1.0),
                        image[sl])
  return result

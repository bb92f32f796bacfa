"""Parameter-free fills of image holes: the generator's starting point.

Images [N, H, W, C] (any range), masks [N, H, W, 1] with 1 = missing pixel.
Both fills are stop-gradient'ed: they carry no parameters to train.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def pyramid_fill(image, mask):
  """Fills holes by push-pull over a mask-weighted image pyramid (no params).

  Pull: halve the resolution until 1x1, each cell the mean of its visible
  pixels.  Push: from coarse to fine, a cell with any visible pixel keeps its
  own mean, an empty one takes the bilinear upsampling of the coarser level.
  A smooth fill close to biharmonic inpainting (within ~0.3 dB PSNR on the
  held-out set) for a fraction of the cost; the generator adds detail to it.

  Args:
    image: [N, H, W, C]; hole pixels are ignored.
    mask: [N, H, W, 1], 1 = missing.
  Returns:
    [N, H, W, C]: visible pixels unchanged, holes filled (0 where the mask
    is full).
  """
  image = image.astype(jnp.float32)
  valid = 1.0 - mask.astype(jnp.float32)
  levels = max(1, math.ceil(math.log2(max(image.shape[1:3]))))
  colours, weights = [image * valid], [valid]
  for _ in range(levels):
    # 'SAME' zero padding adds zero weight, so odd sizes pool correctly.
    w = nn.avg_pool(weights[-1], (2, 2), (2, 2), padding='SAME')
    c = nn.avg_pool(colours[-1] * weights[-1], (2, 2), (2, 2),
                    padding='SAME')
    colours.append(c / jnp.maximum(w, 1e-6))
    weights.append(w)
  fill = colours[-1]
  for level in reversed(range(levels)):
    shape = colours[level].shape
    if shape[1:3] == (2 * fill.shape[1], 2 * fill.shape[2]):
      up = _upsample2(_upsample2(fill, 1), 2)
    else:
      up = jax.image.resize(fill, shape, 'linear')
    fill = jnp.where(weights[level] > 0, colours[level], up)
  return jax.lax.stop_gradient(fill)


def _upsample2(x, axis: int):
  """x doubled along `axis`, bilinear with half-pixel centres and the edge
  repeated: jax.image.resize's 'linear' for an exact factor of 2 (to
  float rounding), without its dense weight matrices (9x faster at
  2048 px)."""
  n = x.shape[axis]
  first = jax.lax.slice_in_dim(x, 0, 1, axis=axis)
  last = jax.lax.slice_in_dim(x, n - 1, n, axis=axis)
  before = jnp.concatenate(
      [first, jax.lax.slice_in_dim(x, 0, n - 1, axis=axis)], axis=axis)
  after = jnp.concatenate(
      [jax.lax.slice_in_dim(x, 1, n, axis=axis), last], axis=axis)
  pairs = jnp.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after],
                    axis=axis + 1)
  shape = list(x.shape)
  shape[axis] = 2 * n
  return pairs.reshape(shape)


def harmonic_fill(image, mask, iterations: int = 100):
  """`pyramid_fill`, then Jacobi steps of Laplace's equation in the holes.

  Each step replaces every hole pixel by the mean of its 4 neighbours
  (edge-replicated at the border); visible pixels stay fixed.  The pyramid
  start supplies the low frequencies, so ~100 steps come close to the
  harmonic interpolant of the visible pixels, which scores above biharmonic
  inpainting on the held-out set (docs/quality.md).  Shapes as pyramid_fill.
  """
  mask = mask.astype(jnp.float32)
  fill = pyramid_fill(image, mask)

  def step(_, f):
    p = jnp.pad(f, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='edge')
    mean = (p[:, :-2, 1:-1] + p[:, 2:, 1:-1]
            + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]) / 4.0
    return f + mask * (mean - f)

  return jax.lax.stop_gradient(jax.lax.fori_loop(0, iterations, step, fill))

"""What patches are compared on: the per-level features of patch_match.

Valid source pixels, PatchMatch's RGB (+ gradient) channels, a per-level
PCA of the patches applied by one convolution, the blur that the guide's
pull sees, and gathers from flattened tables.  Shapes: images [H, W, C],
masks [H, W] bool.
"""
import math

import jax
import jax.numpy as jnp


def box_max(x, size: int, pad_value):
  """Max over size x size windows (centred, SAME) of [H, W] bool."""
  r = size // 2
  p = jnp.pad(x, r, constant_values=pad_value)
  return jax.lax.reduce_window(p, False, jax.lax.bitwise_or, (size, size),
                               (1, 1), 'VALID')


def valid_sources(hole, inside, patch: int):
  """Pixels [H, W] whose whole patch is visible and inside the image."""
  return ~box_max(hole | ~inside, patch, True)


def offsets(patch: int):
  r = patch // 2
  return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]


def at(table, ys, xs):
  """table[ys, xs] for a table [H, W, ...]: one gather from the flattened
  table (XLA's CPU gather of index pairs is several times slower)."""
  h, w = table.shape[:2]
  flat = table.reshape((h * w,) + table.shape[2:])
  return jnp.take(flat, ys * w + xs, axis=0, mode='clip')


def sample_valid(key, valid, shape, tries: int = 8):
  """Random coordinates [*shape, 2], valid where any of `tries` uniform
  draws was (rejection sampling; a miss is replaced by the search)."""
  h, w = valid.shape
  # uniform, not randint: randint's compile alone took ~1 s on a CPU.
  u = jax.random.uniform(key, (2, tries) + shape)
  ys = jnp.minimum((u[0] * h).astype(jnp.int32), h - 1)
  xs = jnp.minimum((u[1] * w).astype(jnp.int32), w - 1)
  first = jnp.argmax(at(valid, ys, xs), axis=0)
  pick = lambda a: jnp.take_along_axis(a, first[None], axis=0)[0]
  return jnp.stack([pick(ys), pick(xs)], axis=-1).astype(jnp.int32)


def features(image, gradients: bool):
  """The channels patches are compared on: RGB [H, W, 3], and with
  `gradients` their central differences / 2 along y and x [H, W, 9] (as
  PatchMatch's inpainting: edges count as much as colours)."""
  if not gradients:
    return image
  p = jnp.pad(image, ((1, 1), (1, 1), (0, 0)), mode='edge')
  gy = (p[2:, 1:-1] - p[:-2, 1:-1]) / 2.0
  gx = (p[1:-1, 2:] - p[1:-1, :-2]) / 2.0
  return jnp.concatenate([image, gy, gx], axis=-1)


def pca_filters(key, image, valid, patch: int, dims: int, samples: int):
  """Conv filters [p, p, C, dims]: the top principal axes of the patches."""
  coords = sample_valid(key, valid, (samples,))
  offs = jnp.array(offsets(patch), jnp.int32)
  h, w = valid.shape
  ys = jnp.clip(coords[:, None, 0] + offs[None, :, 0], 0, h - 1)
  xs = jnp.clip(coords[:, None, 1] + offs[None, :, 1], 0, w - 1)
  x = at(image, ys, xs).reshape(samples, -1)          # [S, p*p*C]
  ok = at(valid, coords[:, 0], coords[:, 1]).astype(jnp.float32)[:, None]
  n = jnp.maximum(jnp.sum(ok), 1.0)
  x = (x - jnp.sum(x * ok, axis=0) / n) * ok
  cov = x.T @ x / n
  _, vecs = jnp.linalg.eigh(cov)                  # ascending eigenvalues
  basis = vecs[:, ::-1][:, :dims]                 # [p*p*C, dims]
  return basis.reshape(patch, patch, image.shape[-1], dims)


def conv(x, filters, padding: str):
  """x [H, W, C] convolved with filters [p, p, C, D], 'SAME' (zeros) or
  'VALID'.  The p rows of each window are stacked as channels first, then
  one 1 x p convolution sums them: the same sums, 5x faster on a CPU than
  XLA's p x p convolution of 3 channels (64 ms against 333 ms for 24
  features of 512 x 768)."""
  p, _, c, d = filters.shape
  r = p // 2
  if padding == 'SAME':
    x = jnp.pad(x, ((r, r), (0, 0), (0, 0)))
  rows = x.shape[0] - 2 * r
  stacked = jnp.concatenate([x[dy:dy + rows] for dy in range(p)], axis=-1)
  # filters[dy, dx, ch] -> [1, dx, dy * C + ch]: the stacked channel order.
  rowwise = jnp.transpose(filters, (1, 0, 2, 3)).reshape(1, p, p * c, d)
  return jax.lax.conv_general_dilated(
      stacked[None], rowwise, (1, 1),
      ((0, 0), (r, r)) if padding == 'SAME' else 'VALID',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      precision=jax.lax.Precision.HIGHEST)[0]


def blur_width(sigma: float) -> int:
  """The half-width b of the three boxes (2b + 1 wide) that approximate a
  Gaussian of `sigma`: three boxes have variance 3 * ((2b + 1)**2 - 1) / 12."""
  if sigma <= 0:
    return 0
  return max(1, int(round((math.sqrt(4.0 * sigma ** 2 + 1.0) - 1.0) / 2.0)))


_MAX_BLUR = 64  # the widest box half-width (blur_width of sigma ~64)


def box_blur(x, b):
  """About a Gaussian blur of [H, W, C]: three box filters of half-width b
  (a traced int32 >= 0, at most _MAX_BLUR; see blur_width; 0: no blur),
  edge-padded.  b is traced so that photos of nearby sizes share one
  compiled level; the padding is static (the widest box)."""
  for axis in (0, 1):
    n = x.shape[axis]
    cap = min(n, _MAX_BLUR)
    bb = jnp.clip(b, 1, cap)
    for _ in range(3):
      pad = [(0, 0)] * 3
      pad[axis] = (cap + 1, cap)
      c = jnp.cumsum(jnp.pad(x, pad, mode='edge'), axis=axis)
      # Sum of x[i - bb .. i + bb] = c[i + bb + cap + 1] - c[i - bb + cap].
      hi = jax.lax.dynamic_slice_in_dim(c, cap + 1 + bb, n, axis=axis)
      lo = jax.lax.dynamic_slice_in_dim(c, cap - bb, n, axis=axis)
      x = jnp.where(b > 0, (hi - lo) / (2 * bb + 1).astype(x.dtype), x)
  return x

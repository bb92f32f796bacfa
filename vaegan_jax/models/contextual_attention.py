"""Texture copied from the visible region: contextual attention as shift-map.

DeepFill's contextual attention (Yu et al. 2018) lets every hole cell
attend to every visible 3x3 feature patch.  Deep inside a hole the features
of neighbouring cells are alike, so they pick the same patch, and the copy
becomes a grid of repeated patches.  Here the attention is over
translations instead (shift-map style, Pritch et al. 2009):
1. `candidate_offsets`: per image, the few translations whose surroundings
   match the hole's (the visible ring around the hole against the ring
   moved by the offset: a masked cross-correlation, by FFT, so the cost is
   O(hw log hw), not (hw)**2);
2. every cell of s x s pixels takes the candidate whose moved features
   match its own best, agreed over a window of cells, so whole regions
   copy with one offset: coherent texture;
3. the chosen detail is copied at full resolution, blended bilinearly
   between cells; 'energy' blending rescales the blend by
   sum(w) / sqrt(sum(w**2)), so that where two unrelated copies meet the
   texture keeps its contrast instead of fading by up to half.
The choice is hard in the forward pass (a copy, not an average that would
blur), with softmax gradients (straight-through), so the features still
learn where to copy from.

Shapes: features [N, h, w, C]; images [N, h*s, w*s, C']; masks
[N, h*s, w*s, 1] with 1 = hole.
"""
import functools

import jax
import jax.numpy as jnp

BLENDS = ('linear', 'energy')


def patches3x3(x):
  """[N, h, w, C] -> [N, h, w, 9C]: each cell's 3x3 neighbourhood (zero pad)."""
  h, w = x.shape[1:3]
  p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return jnp.concatenate([p[:, i:i + h, j:j + w]
                          for i in range(3) for j in range(3)], axis=-1)


def valid_keys(mask, stride: int):
  """[N, H, W, 1] hole mask -> [N, h, w]: cells whose 2s window is all visible."""
  s = stride
  half = s // 2
  m = jnp.pad(mask[..., 0], ((0, 0), (half, half), (half, half)),
              constant_values=0.0)
  n, hp, wp = m.shape
  h, w = (hp - s) // s, (wp - s) // s
  # The window of cell (y, x) is padded rows [y*s, y*s + 2s): max of the
  # s x s blocks (y, x), (y+1, x), (y, x+1), (y+1, x+1).
  blocks = m[:, :(h + 1) * s, :(w + 1) * s].reshape(n, h + 1, s, w + 1, s)
  blocks = blocks.max(axis=(2, 4))
  window = jnp.maximum(jnp.maximum(blocks[:, :-1, :-1], blocks[:, 1:, :-1]),
                       jnp.maximum(blocks[:, :-1, 1:], blocks[:, 1:, 1:]))
  return window < 0.5


def _correlate(a, b):
  """c[o] = sum_{q, c} a[q, c] * b[q + o, c] for a, b [h, w] or [h, w, C].

  Zero outside; one batched FFT over the channels.  Returns [2h, 2w];
  offset (dy, dx) is at index (dy mod 2h, dx mod 2w).
  """
  h, w = a.shape[:2]
  if a.ndim == 2:
    a, b = a[..., None], b[..., None]
  fa = jnp.fft.rfft2(a, s=(2 * h, 2 * w), axes=(0, 1))
  fb = jnp.fft.rfft2(b, s=(2 * h, 2 * w), axes=(0, 1))
  return jnp.fft.irfft2(jnp.sum(jnp.conj(fa) * fb, axis=-1),
                        s=(2 * h, 2 * w))


def _shift(x, dy, dx):
  """y[q] = x[q + (dy, dx)] for x [h, w, ...], zero outside (traced dy, dx)."""
  h, w = x.shape[:2]
  pad = [(h, h), (w, w)] + [(0, 0)] * (x.ndim - 2)
  start = (h + dy, w + dx) + (0,) * (x.ndim - 2)
  return jax.lax.dynamic_slice(jnp.pad(x, pad), start, x.shape)


def candidate_offsets(features, hole_cells, valid, num_offsets: int,
                      min_distance: int = 0):
  """The `num_offsets` best translations (cells) to copy one image's hole.

  features [h, w, C] unit-norm patch features; hole_cells [h, w] (cells
  with hole pixels), valid [h, w] (cells that may be copied).  An offset o
  scores the mean similarity of the visible ring around the hole to the
  ring moved by o (template matching of the hole's surroundings), minus 4x
  the fraction of hole cells that o would copy from invalid cells.  With
  min_distance > 0 the offsets are picked greedily, each at least that many
  cells (Chebyshev) from those before: the best scores sit next to each
  other, and near-equal offsets would cover the same part of the hole.
  Returns [num_offsets, 2] int32 (dy, dx); not differentiable.
  """
  h, w = hole_cells.shape
  hole = hole_cells.astype(jnp.float32)
  grown = jax.lax.reduce_window(hole, 0.0, jax.lax.max, (5, 5), (1, 1),
                                'SAME')
  ring = grown * (1.0 - hole)
  ring = jnp.where(jnp.sum(ring) > 0, ring, 1.0 - hole)
  sim = _correlate(ring[..., None] * features, features)
  sim = sim / jnp.maximum(jnp.sum(ring), 1.0)
  covered = _correlate(hole, valid.astype(jnp.float32))
  bad = 1.0 - covered / jnp.maximum(jnp.sum(hole), 1.0)
  score = jax.lax.stop_gradient(sim - 4.0 * bad)
  dy = jnp.arange(2 * h)
  dy = jnp.where(dy < h, dy, dy - 2 * h)
  dx = jnp.arange(2 * w)
  dx = jnp.where(dx < w, dx, dx - 2 * w)
  # Index h (or w) is no offset at all; (0, 0) copies the hole itself.
  score = jnp.where((dy == -h)[:, None] | (dx == -w)[None, :], -1e9, score)
  score = score.at[0, 0].set(-1e9)
  if min_distance <= 0:
    _, idx = jax.lax.top_k(score.reshape(-1), num_offsets)
    return jnp.stack([dy[idx // (2 * w)], dx[idx % (2 * w)]], axis=-1)
  picked = []
  for _ in range(num_offsets):
    i = jnp.argmax(score.reshape(-1))
    oy, ox = dy[i // (2 * w)], dx[i % (2 * w)]
    picked.append(jnp.stack([oy, ox]))
    near = ((jnp.abs(dy - oy) < min_distance)[:, None]
            & (jnp.abs(dx - ox) < min_distance)[None, :])
    score = jnp.where(near, score - 1e6, score)
  return jnp.stack(picked)


def _copy_one(features, hole_cells, valid, band, *, stride, num_offsets,
              window, scale, min_distance=0, blend='linear'):
  """One image: band [H, W, C] copied into every cell by its chosen offset."""
  feats = patches3x3(features[None].astype(jnp.float32))[0]
  feats = feats / jnp.sqrt(jnp.sum(jnp.square(feats), -1, keepdims=True)
                           + 1e-6)
  offsets = candidate_offsets(jax.lax.stop_gradient(feats), hole_cells,
                              valid, num_offsets, min_distance)

  def per_offset(o):
    moved = _shift(feats, o[0], o[1])
    ok = _shift(valid.astype(jnp.float32), o[0], o[1]) > 0.5
    sim = jnp.sum(feats * moved, axis=-1)
    # Agreement over a window of cells: neighbours pick one offset.
    sim = jax.lax.reduce_window(sim, 0.0, jax.lax.add, (window, window),
                                (1, 1), 'SAME') / window ** 2
    pixels = _shift(band, o[0] * stride, o[1] * stride)
    return jnp.where(ok, scale * sim, -1e9), ok, pixels

  logits, ok, pixels = jax.vmap(per_offset)(offsets)  # [K, h, w], [K, H, W, C]
  soft = jax.nn.softmax(logits, axis=0)
  hard = jax.nn.one_hot(jnp.argmax(logits, axis=0), num_offsets, axis=0)
  choice = hard + soft - jax.lax.stop_gradient(soft)
  choice = choice * jnp.any(ok, axis=0)
  hh, ww = band.shape[:2]
  # Bilinear weights per pixel: neighbouring cells' copies blend smoothly.
  weights = jax.image.resize(choice, (num_offsets, hh, ww), 'linear')
  out = jnp.sum(weights[..., None] * pixels, axis=0)
  if blend == 'energy':
    norm = jnp.sqrt(jnp.sum(jnp.square(jax.lax.stop_gradient(weights)), 0))
    total = jnp.sum(jax.lax.stop_gradient(weights), 0)
    out = out * (total / jnp.maximum(norm, 1e-3))[..., None]
  return out


def copy_band(features, mask, band, *, stride: int, num_offsets: int = 4,
              window: int = 3, scale: float = 10.0, min_distance: int = 0,
              blend: str = 'linear'):
  """Texture copied into the hole from translated visible regions.

  Shift-map style: for each image, `candidate_offsets` picks a few
  translations whose surroundings match the hole's; every cell of s x s
  pixels (s = stride) then takes the candidate its features match best,
  averaged over `window` x `window` cells so that whole regions copy with
  one offset (coherent texture, no repeated patch).  The choice is hard in
  the forward pass, with softmax gradients (straight-through).

  Args:
    features: [N, h, w, C] attention features at 1/s resolution.
    mask: [N, h*s, w*s, 1], 1 = hole.
    band: [N, h*s, w*s, C'] the detail to copy (visible where copied).
    min_distance: see `candidate_offsets`.
    blend: 'linear', or 'energy' (variance-preserving, see module doc).
  Returns:
    [N, h*s, w*s, C'] copied detail (meaningful in the hole).
  """
  hole_cells = nn_max_pool(mask, stride)
  valid = valid_keys(mask, stride)
  return jax.vmap(functools.partial(
      _copy_one, stride=stride, num_offsets=num_offsets, window=window,
      scale=scale, min_distance=min_distance, blend=blend))(features, hole_cells, valid, band)


def nn_max_pool(mask, stride: int):
  """[N, h*s, w*s, 1] -> [N, h, w]: cells with any hole pixel."""
  n, hs, ws, _ = mask.shape
  return mask[..., 0].reshape(n, hs // stride, stride, ws // stride,
                              stride).max(axis=(2, 4)) > 0.5


def gaussian_blur(x, sigma: float):
  """Separable Gaussian blur of [N, H, W, C] (edge padding), radius 3 sigma."""
  r = max(1, int(3 * sigma + 0.5))
  t = jnp.arange(-r, r + 1, dtype=jnp.float32)
  k = jnp.exp(-0.5 * jnp.square(t / sigma))
  k = k / jnp.sum(k)
  h, w = x.shape[1:3]
  p = jnp.pad(x, ((0, 0), (r, r), (0, 0), (0, 0)), mode='edge')
  x = sum(k[i] * p[:, i:i + h] for i in range(2 * r + 1))
  p = jnp.pad(x, ((0, 0), (0, 0), (r, r), (0, 0)), mode='edge')
  return sum(k[i] * p[:, :, i:i + w] for i in range(2 * r + 1))


def hole_width(mask):
  """[N, H, W, 1] -> [N]: 2 * hole area / hole boundary length, in pixels.

  A stroke's width; half a disc's diameter.  Boundary pixels are hole
  pixels with a visible 4-neighbour (the image border is not one).
  """
  m = mask[..., 0].astype(jnp.float32)
  p = jnp.pad(m, ((0, 0), (1, 1), (1, 1)), constant_values=1.0)
  inner = jnp.minimum(jnp.minimum(p[:, :-2, 1:-1], p[:, 2:, 1:-1]),
                      jnp.minimum(p[:, 1:-1, :-2], p[:, 1:-1, 2:]))
  boundary = jnp.sum(m * (inner < 0.5), axis=(1, 2))
  return 2.0 * jnp.sum(m, axis=(1, 2)) / jnp.maximum(boundary, 1.0)


def detail_band(image, sigma, max_sigma: float):
  """image - Gaussian(image, sigma) per image: the detail above the blur.

  image [N, H, W, C]; sigma [N] in [1, max_sigma] pixels.  Bands at the
  octaves 1, 2, 4, ... max_sigma, interpolated in log2(sigma).
  """
  levels = [1.0]
  while levels[-1] < max_sigma:
    levels.append(min(2.0 * levels[-1], max_sigma))
  bands = jnp.stack([image - gaussian_blur(image, s) for s in levels])
  t = jnp.interp(jnp.log2(jnp.clip(sigma, 1.0, max_sigma)),
                 jnp.log2(jnp.asarray(levels)), jnp.arange(len(levels),
                                                          dtype=jnp.float32))
  w = jnp.maximum(0.0, 1.0 - jnp.abs(t[None, :] - jnp.arange(
      len(levels), dtype=jnp.float32)[:, None]))  # [L, N] hat weights
  return jnp.einsum('ln,lnhwc->nhwc', w, bands)

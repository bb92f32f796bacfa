"""Contextual attention (Yu et al. 2018, DeepFill): copy from what is visible.

Every cell of a feature map at 1/s of the image resolution (s = `stride`)
finds the visible cell whose 3x3 feature patch is most similar (cosine
similarity, fused along diagonals so that neighbours agree on one offset:
DeepFill's attention propagation), and the image patch of 2s x 2s pixels
around that cell is pasted back with overlapping tent windows, the
transposed convolution of DeepFill written as four shifted tilings.

Differences from DeepFill, both so that a small model copies real texture:
* the forward pass is hard (each cell copies one patch; softmax weights
  would average patches into blur); gradients flow through the softmax
  (straight-through), so the features still learn where to look;
* the values are image patches, not feature patches: the network learns
  where to copy from, and the copy is the photo's own texture.

Shapes: features [N, h, w, C]; images [N, h*s, w*s, C']; masks
[N, h*s, w*s, 1] with 1 = hole.  Memory and time grow with (h*w)**2, so
callers bound h*w (inference works on bounded tiles).
"""
import jax
import jax.numpy as jnp


def patches3x3(x):
  """[N, h, w, C] -> [N, h, w, 9C]: each cell's 3x3 neighbourhood (zero pad)."""
  h, w = x.shape[1:3]
  p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return jnp.concatenate([p[:, i:i + h, j:j + w]
                          for i in range(3) for j in range(3)], axis=-1)


def _fuse(scores, size: int):
  """Sums scores[q, k] along diagonals q + d, k + d for |d| <= size // 2.

  scores [N, h, w, h, w] (query y, x; key y, x).  A query whose neighbours
  also match the neighbours of a key scores higher: coherent copies.
  """
  r = size // 2
  if r <= 0:
    return scores
  for qa, ka in ((2, 4), (1, 3)):  # x, then y
    n = scores.shape[qa]
    widths = [(0, 0)] * 5
    widths[qa] = widths[ka] = (r, r)
    p = jnp.pad(scores, widths)
    total = 0.0
    for d in range(-r, r + 1):
      idx = [slice(None)] * 5
      idx[qa] = slice(r + d, r + d + n)
      idx[ka] = slice(r + d, r + d + n)
      total = total + p[tuple(idx)]
    scores = total
  return scores


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


def attention_weights(features, valid, *, scale: float = 10.0, fuse: int = 3,
                      hard: bool = True):
  """Which visible cell each cell copies: [N, h*w (query), h*w (key)].

  features [N, h, w, C]; valid [N, h, w] bool (keys).  Rows sum to 1; with
  hard=True the forward values are one-hot (argmax) and the gradient is
  the softmax's.  A row of an image without any valid key is all zero.
  """
  n, h, w, _ = features.shape
  f = patches3x3(features.astype(jnp.float32))
  f = f / jnp.sqrt(jnp.sum(jnp.square(f), axis=-1, keepdims=True) + 1e-6)
  f = f.reshape(n, h * w, -1)
  scores = jnp.einsum('nqc,nkc->nqk', f, f)
  scores = _fuse(scores.reshape(n, h, w, h, w), fuse).reshape(n, h * w, h * w)
  keys = valid.reshape(n, 1, h * w)
  scores = jnp.where(keys, scale * scores, -1e9)
  soft = jax.nn.softmax(scores, axis=-1)
  if hard:
    one_hot = jax.nn.one_hot(jnp.argmax(scores, axis=-1), h * w)
    soft = one_hot + soft - jax.lax.stop_gradient(soft)
  any_key = jnp.any(keys, axis=-1, keepdims=True)
  return jnp.where(any_key, soft, 0.0)


def _tent(s: int):
  """Weights of a 2s window that sum to 1 where windows overlap by s."""
  t = jnp.arange(2 * s, dtype=jnp.float32) + 0.5
  return jnp.minimum(t, 2 * s - t) / s


def paste(weights, values, stride: int):
  """Pastes the 2s x 2s patches of `values` that `weights` pick.

  weights [N, h*w, h*w] (attention_weights); values [N, h*s, w*s, C].
  Returns [N, h*s, w*s, C]: at each query cell, the weighted sum of the
  key cells' windows, overlapping windows blended with tent weights.
  """
  s = stride
  half = s // 2
  n, hs, ws, c = values.shape
  h, w = hs // s, ws // s
  v = jnp.pad(values, ((0, 0), (half, half), (half, half), (0, 0)),
              mode='edge')
  tent = _tent(s)
  out = jnp.zeros((n, hs + s, ws + s, c), values.dtype)
  norm = jnp.zeros((1, hs + s, ws + s, 1), values.dtype)
  for a in range(2):
    for b in range(2):
      # Quadrant (a, b) of every key's window, as [N, K, s*s*C].
      q = v[:, a * s:a * s + hs, b * s:b * s + ws]
      q = q.reshape(n, h, s, w, s, c).transpose(0, 1, 3, 2, 4, 5)
      pasted = jnp.einsum('nqk,nkd->nqd', weights, q.reshape(n, h * w, -1))
      pasted = pasted.reshape(n, h, w, s, s, c).transpose(0, 1, 3, 2, 4, 5)
      wy = tent[a * s:(a + 1) * s]
      wx = tent[b * s:(b + 1) * s]
      win = jnp.tile(wy[:, None] * wx[None, :], (h, w))[None, :, :, None]
      out = out.at[:, a * s:a * s + hs, b * s:b * s + ws].add(
          pasted.reshape(n, hs, ws, c) * win)
      norm = norm.at[:, a * s:a * s + hs, b * s:b * s + ws].add(win)
  return (out / norm)[:, half:half + hs, half:half + ws]


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

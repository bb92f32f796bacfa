"""The patch engine's pyramid, and what moves up it from level to level.

PatchMatch's inpainting pyramid (a coarse pixel is a hole only if its whole
window was), Newson et al.'s texture channels, a level's fill and matches
carried up to the next level's target box, and the vote of a level too
large to search.  Everything at full size works on the hole's box, so a
12-megapixel photo holds few copies of itself.  Host-side numpy.

Images float32 [H, W, C] in [0, 1]; holes bool [H, W] (True = missing);
a box is (y0, x0) and its (height, width).
"""
from typing import Tuple

import cv2
import numpy as np


def resize(x: np.ndarray, hw) -> np.ndarray:
  """[H, W(, C)] to hw: area-averaged when it shrinks, bilinear else."""
  if x.shape[:2] == tuple(hw):
    return x
  shrink = hw[0] < x.shape[0] or hw[1] < x.shape[1]
  out = cv2.resize(x, (hw[1], hw[0]),
                   interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
  return out.reshape(tuple(hw) + x.shape[2:])


# PatchMatch's downsampling kernel (binomial-like, 6 taps): a coarse pixel
# averages the visible pixels of a 6 x 6 window.
_KERNEL = np.array([1, 5, 10, 10, 5, 1], np.float32)


def _shrink_level(img, hl):
  """One level down, PatchMatch's way: a coarse pixel is a hole only if
  its whole 6 x 6 window was, so the hole shrinks level by level and the
  coarsest levels are whole images of the visible colours."""
  known = (~hl).astype(np.float32)
  k = _KERNEL / _KERNEL.sum()
  # Centred on (2y + 0.5, 2x + 0.5): taps -2..3 around the even pixel.
  def blur(x):
    return cv2.sepFilter2D(x, -1, k, k, anchor=(2, 2),
                           borderType=cv2.BORDER_CONSTANT)
  wsum = blur(known)
  col = blur(img * known[..., None]).reshape(img.shape)
  h, w = (hl.shape[0] + 1) // 2, (hl.shape[1] + 1) // 2
  wsum, col = wsum[::2, ::2][:h, :w], col[::2, ::2][:h, :w]
  coarse = col / np.maximum(wsum, 1e-8)[..., None]
  return coarse.astype(np.float32), wsum <= 1e-6


def pyramid(image, hole, min_side: int, shrink: bool = False):
  """[(image, hole)] from fine to coarse, halving while the short side
  stays >= min_side.  Colours average the visible pixels only; a coarse
  pixel is a hole if half of it or more was, or with `shrink` only if all
  of its window was (_shrink_level)."""
  levels = [(np.asarray(image, np.float32), np.asarray(hole, bool))]
  while True:
    img, hl = levels[-1]
    hw = ((hl.shape[0] + 1) // 2, (hl.shape[1] + 1) // 2)
    if min(hw) < min_side:
      return levels
    if shrink:
      levels.append(_shrink_level(img, hl))
      continue
    known = (~hl).astype(np.float32)
    k = resize(known, hw)
    c = resize(img * known[..., None], hw) / np.maximum(k, 1e-6)[..., None]
    levels.append((c.astype(np.float32), k < 0.5))


def texture_channels(image, hole, weight: float) -> np.ndarray:
  """Newson et al.'s texture channels x weight [H, W, 2]: |Iy|, |Ix| of
  image's grey level, 0 where a difference would read a hole pixel.  The
  pyramid's averaging makes them, level by level, the mean absolute
  gradient over a 2^L box."""
  image = np.asarray(image, np.float32)
  grey = image.mean(-1)
  seen = (~np.asarray(hole, bool)).astype(np.float32)
  out = np.zeros(grey.shape + (2,), np.float32)
  out[:-1, :, 0] = cv2.absdiff(grey[1:], grey[:-1]) * (seen[1:] * seen[:-1])
  out[:, :-1, 1] = (cv2.absdiff(grey[:, 1:], grey[:, :-1])
                    * (seen[:, 1:] * seen[:, :-1]))
  out *= weight
  return out


def with_texture(image, hole, weight: float):
  """image [H, W, 3] with `texture_channels` appended ([H, W, 5]); image
  itself when weight is 0."""
  if weight <= 0:
    return np.asarray(image, np.float32)
  return np.concatenate([np.asarray(image, np.float32),
                         texture_channels(image, hole, weight)], -1)


def _axis(n_out: int, n_in: int, start: int, count: int):
  """cv2's bilinear upsampling along one axis for output indices
  start..start+count: (lower index, upper index, weight of the upper)."""
  f = (np.arange(start, start + count) + 0.5) * (n_in / n_out) - 0.5
  lo = np.floor(f)
  frac = (f - lo).astype(np.float32)
  lo = lo.astype(np.int64)
  frac = np.where(lo < 0, 0.0, frac).astype(np.float32)
  lo = np.clip(lo, 0, n_in - 1)
  frac = np.where(lo >= n_in - 1, 0.0, frac).astype(np.float32)
  return lo, np.minimum(lo + 1, n_in - 1), frac


def upsample_box(coarse: np.ndarray, hw, origin, box) -> np.ndarray:
  """The box of coarse [k, h, w, C] bilinearly upsampled to hw ([k, *box,
  C]): what cv2.resize of the whole level would give there, without it."""
  (y0, x0), (bh, bw) = origin, box
  if (y0, x0) == (0, 0) and tuple(box) == tuple(hw):
    return np.stack([resize(np.ascontiguousarray(c), hw) for c in coarse])
  ylo, yhi, fy = _axis(hw[0], coarse.shape[1], y0, bh)
  xlo, xhi, fx = _axis(hw[1], coarse.shape[2], x0, bw)
  fy, fx = fy[:, None, None], fx[None, :, None]
  rows = lambda ys: coarse[:, ys]
  top, bottom = rows(ylo), rows(yhi)
  upper = top[:, :, xlo] * (1 - fx) + top[:, :, xhi] * fx
  lower = bottom[:, :, xlo] * (1 - fx) + bottom[:, :, xhi] * fx
  return (upper * (1 - fy) + lower * fy).astype(np.float32)


def carry(nnf, origin, prev_hw, hw, box_origin, box):
  """The coarser level's matches carried up to this level's target box:
  offsets x 2, each pixel its parent's.  nnf [k, pth, ptw, 2]: the coarser
  level's matches in its box at `origin`; outside it every pixel matched
  itself."""
  (py0, px0), (ph, pw), (h, w) = origin, prev_hw, hw
  (y0, x0), (th, tw) = box_origin, box
  cy = np.clip((np.arange(th) + y0) * ph // h, 0, ph - 1)
  cx = np.clip((np.arange(tw) + x0) * pw // w, 0, pw - 1)
  by, bx = cy - py0, cx - px0
  in_y = (by >= 0) & (by < nnf.shape[1])
  in_x = (bx >= 0) & (bx < nnf.shape[2])
  parent = nnf[:, np.clip(by, 0, nnf.shape[1] - 1)][
      :, :, np.clip(bx, 0, nnf.shape[2] - 1)]
  itself = np.stack(np.broadcast_arrays(cy[:, None], cx[None, :]), axis=-1)
  parent = np.where((in_y[:, None] & in_x[None, :])[None, ..., None],
                    parent, itself[None])
  off_y = (parent[..., 0] - cy[:, None]) * h / ph
  off_x = (parent[..., 1] - cx[None, :]) * w / pw
  return np.stack([np.round(off_y) + (np.arange(th) + y0)[:, None],
                   np.round(off_x) + (np.arange(tw) + x0)[None, :]],
                  axis=-1).astype(np.int32)


def vote_box(image, hole, starts, nnf, origin, patch: int) -> np.ndarray:
  """A level too large to search: its box rebuilt from the carried match.

  Every hole pixel of the box becomes the mean of the source pixels that
  the `patch` x `patch` matched patches covering it point to (matches into
  the hole do not vote); other pixels, and a hole pixel with no vote, keep
  `starts`.  image [H, W, 3] and hole [H, W]: the whole level (sources may
  be anywhere); starts [k, th, tw, 3] and nnf [k, th, tw, 2]: the box at
  `origin`.  Returns [k, th, tw, 3]; only the box is ever copied.
  """
  h, w = hole.shape
  k, th, tw = nnf.shape[:3]
  r = patch // 2
  ny = np.clip(nnf[..., 0], 0, h - 1)
  nx = np.clip(nnf[..., 1], 0, w - 1)
  ok = (~hole[ny, nx]).astype(np.float32)
  pn = np.pad(np.stack([ny, nx], -1), ((0, 0), (r, r), (r, r), (0, 0)),
              mode='edge')
  pw = np.pad(ok, ((0, 0), (r, r), (r, r)))
  acc = np.zeros((k, th, tw, image.shape[-1]), np.float32)
  total = np.zeros((k, th, tw), np.float32)
  for dy in range(-r, r + 1):
    for dx in range(-r, r + 1):
      # The patch centred at p - d covers p with its pixel d.
      n = pn[:, r - dy:r - dy + th, r - dx:r - dx + tw]
      wt = pw[:, r - dy:r - dy + th, r - dx:r - dx + tw]
      ys = np.clip(n[..., 0] + dy, 0, h - 1)
      xs = np.clip(n[..., 1] + dx, 0, w - 1)
      acc += wt[..., None] * image[ys, xs]
      total += wt
  (y0, x0) = origin
  box_hole = np.zeros((th, tw), bool)
  sub = hole[y0:y0 + th, x0:x0 + tw]
  box_hole[:sub.shape[0], :sub.shape[1]] = sub
  take = box_hole[None] & (total > 0)
  voted = acc / np.maximum(total, 1e-12)[..., None]
  return np.where(take[..., None], voted, starts).astype(np.float32)


def paste(image: np.ndarray, values: np.ndarray, hole: np.ndarray,
          origin: Tuple[int, int]) -> np.ndarray:
  """k copies of image [H, W, C] with the hole pixels of the box at
  `origin` from values [k, bh, bw, C] (clipped to the image)."""
  (y0, x0), (h, w) = origin, hole.shape
  y1, x1 = min(h, y0 + values.shape[1]), min(w, x0 + values.shape[2])
  out = np.empty((len(values),) + image.shape, np.float32)
  out[:] = image
  box = out[:, y0:y1, x0:x1]
  np.copyto(box, values[:, :y1 - y0, :x1 - x0],
            where=hole[y0:y1, x0:x1, None])
  return out

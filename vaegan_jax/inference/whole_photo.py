"""Whole photos of any size with a model trained on small crops.

`fill` runs a model (any (images, holes, key) -> raw output function) on one
photo.  By default (`synthesis` settings given) the model runs once per
hole group, at the coarsest scale below, and `patch_synthesis` rebuilds
every finer scale from the photo's own patches, guided by that fill.
Without them, every scale is the model's:
1. Crop: holes are grouped (`groups`), and each group is filled in a box
   around it with a margin of context (IOPaint's "crop" strategy), so a
   small hole in a large photo costs what a small image costs.
2. Coarse to fine: the coarsest scale makes the thickest hole about
   `hole_fraction` of the training size, as in training.  At every finer
   scale (x2) the model fills again; its output's low frequencies are
   replaced by the upsampled coarser result, and its high frequencies (the
   texture it copies at that scale) are kept, so texture is added at every
   scale while the structure comes from the coarsest.
3. Bounded cost: a scale larger than `tile` x `tile` runs as overlapping
   tiles that touch a hole (blended with feathered weights), so memory
   is bounded by the tile, not the photo.
4. Seams: at every scale the fill is shifted by a smooth correction that
   matches the pixels around the hole (`seams.seam_correct`, Poisson-style), so
   no step or colour shift shows at the border.

Images are float32 [H, W, 3] in [0, 1]; holes bool [H, W] (True = missing).
"""
import math
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import jax
import numpy as np
from scipy import ndimage

from vaegan_jax.inference import inputs
from vaegan_jax.inference import patch_pyramid
from vaegan_jax.inference import patch_synthesis
from vaegan_jax.inference import seams

# (images [B, h, w, 3], holes [B, h, w], key or None) -> raw [B, h, w, 3].
ModelFn = Callable[[np.ndarray, np.ndarray, Optional[jax.Array]], np.ndarray]
TILE = 256          # side of a model call on a large scale
TILE_OVERLAP = 64   # blended border between neighbouring tiles
TILE_BATCH = 2      # tiles per model call
HOLE_FRACTION = 0.375  # thickest hole at the coarsest scale / training size
# Host bytes per pixel of the working region: float copies of the image,
# the result, the upsampled coarser result, the tile accumulators.
BYTES_PER_PIXEL = 96
_SEAM_RING = 2       # seams.seam_correct's ring after synthesis


class FillPlan(NamedTuple):
  """Where and at which scales a group of holes is filled."""
  box: Tuple[int, int, int, int]  # y0, y1, x0, x1 of the working region
  scales: Tuple[float, ...]       # coarse to fine, the last 1.0


def hole_thickness(hole: np.ndarray) -> float:
  """Diameter (pixels) of the largest disc inside the hole."""
  if not hole.any():
    return 0.0
  # OpenCV's exact Euclidean transform: 20x faster than scipy's at 12 MP,
  # the same values (the image border is not background in either).
  return 2.0 * float(cv2.distanceTransform(
      hole.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE).max())


def _box_around(hole: np.ndarray, work_size: int) -> Tuple[int, ...]:
  """The hole's bounding box grown by a margin of context on each side."""
  h, w = hole.shape
  ys, xs = np.nonzero(hole)
  y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
  margin = max(work_size, y1 - y0, x1 - x0)
  return (int(max(0, y0 - margin)), int(min(h, y1 + margin)),
          int(max(0, x0 - margin)), int(min(w, x1 + margin)))


def plan(hole: np.ndarray, work_size: int,
         hole_fraction: float = HOLE_FRACTION) -> FillPlan:
  """Working box and scales for one group of holes [H, W] (module doc)."""
  box = _box_around(hole, work_size)
  if (box[1] - box[0]) * (box[3] - box[2]) > 0.5 * hole.size:
    box = (0, hole.shape[0], 0, hole.shape[1])  # a crop would save little
  region = hole[box[0]:box[1], box[2]:box[3]]
  coarsest = min(1.0, max(hole_fraction * work_size
                          / max(hole_thickness(region), 1.0),
                          work_size / min(region.shape)))
  # Scales 2**-L, ..., 1/2, 1: each finer scale doubles the previous one.
  levels = max(0, int(round(math.log2(1.0 / coarsest))))
  scales = [2.0 ** -level for level in range(levels, -1, -1)]
  return FillPlan(box=box, scales=tuple(scales))


def groups(hole: np.ndarray, work_size: int) -> List[np.ndarray]:
  """The hole split into groups whose working boxes do not overlap.

  Far-apart holes are filled one box each (a small crop around each), not
  in one box that spans the photo.
  """
  labels, count = ndimage.label(hole)
  if count <= 1:
    return [hole] if count else []
  parts = [labels == i for i in range(1, count + 1)]
  boxes = [_box_around(p, work_size) for p in parts]
  merged = True
  while merged:
    merged = False
    for i in range(len(parts)):
      for j in range(i + 1, len(parts)):
        a, b = boxes[i], boxes[j]
        if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
          parts[i] = parts[i] | parts.pop(j)
          boxes.pop(j)
          boxes[i] = _box_around(parts[i], work_size)
          merged = True
          break
      if merged:
        break
  return parts


def is_direct(p: FillPlan, shape: Tuple[int, int], tile: int = TILE) -> bool:
  """True when the plan is one model call on the whole image."""
  return (p.scales == (1.0,) and p.box == (0, shape[0], 0, shape[1])
          and max(shape) <= tile)


def _resize_hole(hole: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
  """A pixel is a hole at the new size if any of it was (conservative)."""
  if hole.shape == tuple(hw):
    return hole
  area = cv2.resize(hole.astype(np.float32), (hw[1], hw[0]),
                    interpolation=cv2.INTER_AREA)
  near = cv2.resize(hole.astype(np.uint8), (hw[1], hw[0]),
                    interpolation=cv2.INTER_NEAREST) > 0
  return (area > 1e-3) | near


def _starts(length: int, tile: int, overlap: int) -> List[int]:
  if length <= tile:
    return [0]
  step = tile - overlap
  starts = list(range(0, length - tile, step))
  return starts + [length - tile]


def _feather(length: int, tile: int, start: int, overlap: int) -> np.ndarray:
  """1-D blend weights of a tile: ramps where it overlaps a neighbour."""
  t = np.arange(tile, dtype=np.float32)
  w = np.ones(tile, np.float32)
  if start > 0:
    w = np.minimum(w, (t + 1) / (overlap + 1))
  if start + tile < length:
    w = np.minimum(w, (tile - t) / (overlap + 1))
  return w


def run_tiled(model: ModelFn, image: np.ndarray, hole: np.ndarray, key,
              tile: int = TILE, overlap: int = TILE_OVERLAP) -> np.ndarray:
  """The model's raw output on [H, W, 3], tile by tile where it is large.

  Only tiles that touch the hole run; pixels no tile covers keep `image`.
  """
  hgt, wid = hole.shape
  if max(hgt, wid) <= tile:
    return model(image[None], hole[None], key)[0]
  th, tw = min(tile, hgt), min(tile, wid)
  boxes = [(y, x) for y in _starts(hgt, th, overlap)
           for x in _starts(wid, tw, overlap)
           if hole[y:y + th, x:x + tw].any()]
  acc = np.zeros(image.shape, np.float32)
  weight = np.zeros(hole.shape + (1,), np.float32)
  for i in range(0, len(boxes), TILE_BATCH):
    chunk = boxes[i:i + TILE_BATCH]
    imgs = np.stack([image[y:y + th, x:x + tw] for y, x in chunk])
    holes = np.stack([hole[y:y + th, x:x + tw] for y, x in chunk])
    sub = None if key is None else jax.random.fold_in(key, i)
    outs = model(imgs, holes, sub)
    for (y, x), o in zip(chunk, outs):
      wgt = np.outer(_feather(hgt, th, y, overlap),
                     _feather(wid, tw, x, overlap))[..., None]
      acc[y:y + th, x:x + tw] += o * wgt
      weight[y:y + th, x:x + tw] += wgt
  return np.where(weight > 0, acc / np.maximum(weight, 1e-8), image)


def fill_batch(model: ModelFn, images: np.ndarray, holes: np.ndarray, *,
               work_size: int, keys: Sequence = (None,), check_memory=None,
               synthesis: Optional[patch_synthesis.Settings] = None,
               synthesis_keys: Optional[Sequence] = None) -> np.ndarray:
  """Fills images [N, H, W, 3] (uint8, or float in [0, 1]) with holes
  bool [N, H, W], once per key of `keys`; returns float32 [k, N, H, W, 3].

  Images at the training scale already (each hole's plan is one model call
  on the whole image, no larger than a tile) are one batched model call
  per key, seam-corrected; any other image is `fill_samples`ed on its own,
  after `check_memory(bytes, what)` has seen the whole batch's working
  memory, before any large copy is made.  keys, synthesis, synthesis_keys:
  as for `fill_samples` (each synthesis key is folded with the image's
  index).
  """
  n, h, w = holes.shape
  k = len(keys)

  def as_float(x):
    return (x.astype(np.float32) / 255.0 if x.dtype == np.uint8
            else x.astype(np.float32, copy=False))

  direct = max(h, w) <= TILE and all(
      is_direct(plan(holes[i], work_size), (h, w))
      for i in range(n) if holes[i].any())
  if direct:  # At the training scale: the model's fill is the fill.
    x = as_float(images)
    outs = []
    for key in keys:
      raw = model(x, holes, key)
      outs.append(np.stack([seams.seam_correct(raw[i], x[i], holes[i])
                            for i in range(n)]))
    return np.stack(outs)
  if check_memory is not None:
    check_memory(BYTES_PER_PIXEL * k * n * h * w,
                 f'{k * n} image(s) of {h}x{w}')
  if n == 1:  # no stacked copy of a large photo
    return fill_samples(model, as_float(images[0]), holes[0],
                        work_size=work_size, keys=keys,
                        check_memory=check_memory, synthesis=synthesis,
                        synthesis_keys=(None if synthesis_keys is None else [
                            jax.random.fold_in(s, 0)
                            for s in synthesis_keys]))[:, None]
  return np.stack([
      fill_samples(model, as_float(images[i]), holes[i],
                   work_size=work_size, keys=keys,
                   check_memory=check_memory, synthesis=synthesis,
                   synthesis_keys=(None if synthesis_keys is None else [
                       jax.random.fold_in(s, i) for s in synthesis_keys]))
      for i in range(n)], axis=1)


def fill(model: ModelFn, image: np.ndarray, hole: np.ndarray, *,
         work_size: int, key=None, check_memory=None,
         synthesis: Optional[patch_synthesis.Settings] = None,
         synthesis_key=None) -> np.ndarray:
  """Fills one photo; returns [H, W, 3] float32.

  With `synthesis` the model runs once per hole group, at the coarsest
  scale, and `patch_synthesis` rebuilds every finer level from the photo's
  own patches, guided by it; without, the model fills every scale (module
  doc).  key: the model's latent sample (None: the prior mean);
  synthesis_key: the patch search's.  check_memory: optional
  callable(bytes, what) raising MemoryError.
  """
  return fill_samples(model, image, hole, work_size=work_size, keys=[key],
                      check_memory=check_memory, synthesis=synthesis,
                      synthesis_keys=[synthesis_key])[0]


def fill_samples(model: ModelFn, image: np.ndarray, hole: np.ndarray, *,
                 work_size: int, keys: Sequence, check_memory=None,
                 synthesis: Optional[patch_synthesis.Settings] = None,
                 synthesis_keys: Optional[Sequence] = None) -> np.ndarray:
  """`fill` once per model key of `keys` (with its synthesis key of
  `synthesis_keys`); returns [k, H, W, 3] float32.  With `synthesis` the k
  patch searches of a hole group run as one (patch_synthesis
  .synthesize_samples)."""
  outs = np.empty((len(keys),) + image.shape, np.float32)
  outs[:] = image
  for i, part in enumerate(groups(hole, work_size)):
    subs = [None if key is None else jax.random.fold_in(key, i)
            for key in keys]
    if synthesis is None:
      for out, sub in zip(outs, subs):
        _fill_group(model, out, part, work_size, sub, check_memory)
    else:
      _synthesize_group(model, outs, part, work_size, subs, check_memory,
                        synthesis, [jax.random.fold_in(s, i)
                                    for s in synthesis_keys])
  return outs


def _working_region(out, hole, work_size, check_memory):
  """(plan, region [h, w, 3] copy, its hole) of one group of holes; the
  region's host memory is checked first."""
  p = plan(hole, work_size)
  y0, y1, x0, x1 = p.box
  if check_memory is not None:
    check_memory(BYTES_PER_PIXEL * (y1 - y0) * (x1 - x0),
                 f'a working region of {y1 - y0}x{x1 - x0}')
  return (p, np.ascontiguousarray(out[y0:y1, x0:x1]),
          hole[y0:y1, x0:x1])


def _synthesize_group(model, outs, hole, work_size, keys, check_memory,
                      settings, synthesis_keys):
  """Fills `hole` (one group) of each of outs [k, H, W, 3] in place: the
  network at the coarsest scale (its k samples), then the photo's own
  patches up to full size, the k searches as one.  Past the network, only
  a window around the hole is copied, whatever the photo's size."""
  # The patch side follows the photo's size, not the working box's.
  settings = patch_synthesis.for_size(settings, outs.shape[1:3])
  p, region, region_hole = _working_region(outs[0], hole, work_size,
                                           check_memory)
  y0, x0 = p.box[0], p.box[2]
  schedule = patch_synthesis.plan(region, region_hole, len(keys), settings)
  guides = np.stack([coarse_fill(model, region, region_hole, p.scales[0],
                                 key) for key in keys])
  values, (by, bx) = patch_synthesis.synthesize_box(
      region, region_hole, guides, synthesis_keys, settings, schedule)
  # The window: the synthesised box, and the seam correction's margin.
  ys, xs = np.nonzero(region_hole)
  m = _SEAM_RING + 2
  wy0, wx0 = max(0, min(by, ys.min() - m)), max(0, min(bx, xs.min() - m))
  wy1 = min(region.shape[0], max(by + values.shape[1], ys.max() + 1 + m))
  wx1 = min(region.shape[1], max(bx + values.shape[2], xs.max() + 1 + m))
  known = region[wy0:wy1, wx0:wx1].copy()
  win_hole = region_hole[wy0:wy1, wx0:wx1]
  filled = patch_pyramid.paste(known, values, win_hole, (by - wy0, bx - wx0))
  for out, result in zip(outs, filled):
    if settings.finish:  # Copy seams and any step at the border removed.
      result = seams.seam_correct(result, known, win_hole, ring=_SEAM_RING)
    out[y0 + wy0:y0 + wy1, x0 + wx0:x0 + wx1] = np.where(
        win_hole[..., None], result, known)


def coarse_fill(model, image, hole, scale, key):
  """The model's seam-corrected fill of image [H, W, 3] at `scale`."""
  hw = (max(1, round(image.shape[0] * scale)),
        max(1, round(image.shape[1] * scale)))
  img_s = patch_pyramid.resize(image, hw)
  hole_s = _resize_hole(hole, hw) if scale < 1.0 else hole
  return seams.seam_correct(run_tiled(model, img_s, hole_s, key), img_s,
                            hole_s)


def _fill_group(model, out, hole, work_size, key, check_memory):
  """Fills `hole` (one group) of `out` [H, W, 3] in place."""
  p, region, region_hole = _working_region(out, hole, work_size,
                                           check_memory)
  y0, y1, x0, x1 = p.box
  result = None
  for level, scale in enumerate(p.scales):
    hw = (max(1, round(region.shape[0] * scale)),
          max(1, round(region.shape[1] * scale)))
    img_s = patch_pyramid.resize(region, hw)
    hole_s = _resize_hole(region_hole, hw) if scale < 1.0 else region_hole
    sub = None if key is None else jax.random.fold_in(key, level)
    raw = run_tiled(model, img_s, hole_s, sub)
    if result is not None:
      # Structure from the coarser scale, texture from this one.
      coarse_hw = result.shape[:2]
      low = patch_pyramid.resize(result, hw)
      blur = patch_pyramid.resize(patch_pyramid.resize(raw, coarse_hw),
                                    hw)
      raw = low + (raw - blur)
    result = seams.seam_correct(raw, img_s, hole_s)
  out[y0:y1, x0:x1] = np.where(region_hole[..., None], result, region)

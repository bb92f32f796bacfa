"""Texture from the photo itself, guided by the network: PatchMatch in JAX.

The network decides once, at the coarse scale it was trained for, what goes
in the hole (structure, colour, which region to borrow from).  From there
to full resolution every pyramid level is rebuilt from real patches of the
visible region (Wexler et al. 2007; PatchMatch, Barnes et al. 2009):
1. the pyramid is PatchMatch's inpainting pyramid: a coarse pixel is a hole
   only if its whole 6 x 6 window was, so the hole shrinks level by level;
2. a nearest-neighbour field (NNF) maps every target pixel (one whose patch
   touches the hole) to a source pixel whose patch is fully visible, found
   by vectorised PatchMatch: propagation as jump flooding (every pixel
   tries its neighbours' matches at steps 8, 4, 2, 1, all at once) and
   random search in shrinking windows;
3. patch distances use a per-level PCA of the patches (a few numbers per
   pixel instead of p*p*3), computed by one convolution;
4. the network guides, it does not paint: the target's low frequencies are
   pulled towards its fill with a weight that falls to zero at the finest
   two levels and drops where no source patch resembles the target;
5. each level is rebuilt by voting (PatchMatch's steep weights of the
   match distance); the last vote at full size copies each pixel from its
   best patch, never a blend;
6. the NNF is carried up to the next level (offsets x 2) and refined there.
Known pixels are never written.  Time and memory are bounded by the
region around the hole, not the photo.  This module drives the pyramid;
the per-level kernels are in patch_match.py, what patches are compared
on in patch_features.py.

Images float32 [H, W, 3] in [0, 1]; holes bool [H, W] (True = missing).
"""
import concurrent.futures
import functools
import os
from typing import NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax.inference import patch_features as pf
from vaegan_jax.inference import patch_match as pm
from vaegan_jax.inference import patch_pyramid as pp

class Settings(NamedTuple):
  """How the texture is synthesised (defaults and their ablation:
  docs/quality.md)."""
  patch: int = 7            # patch side (odd), pixels at every level
  large_patch: int = 9      # ... for a region whose long side is at least
  large_side: int = 384     #   this (photos, not 256 px crops; 0: off)
  dims: int = 24            # PCA dimensions of a patch
  max_rounds: int = 7       # search + vote rounds: 1 + 2 * depth, at most
  max_iters: int = 7        # PatchMatch iterations per round: 1 + depth
  min_rounds: int = 1       # rounds and iterations at least
  coherence: float = 1.1    # a neighbour's match within this x is taken
  guide_weight: float = 0.25  # pull of the low frequencies to the guide
  guide_sigma: float = 2.0  # blur (guide pixels) that the pull sees
  sharpness: float = 1.0    # relative weights exp(-d / (sharpness * mean d))
  vote_patch: int = 0       # patches that vote for a pixel (0: `patch`)
  final_vote_patch: int = 3  # ... at full size (0: `vote_patch`)
  min_side: int = 8         # the coarsest level's short side
  small_side: int = 64      # levels up to this share one padded shape
  whole_side: int = 0       # levels up to this search the whole level
  samples: int = 1024       # patches that estimate the PCA
  max_search_side: int = 1024  # larger levels only vote the carried match
  gradients: bool = False   # patches compared on RGB + x/y gradients
  relative_weights: bool = False  # vote weights by the level's mean
  #   distance (else PatchMatch's fixed table of the distance)
  best_final: bool = True   # the last vote at full size: best patch only
  guide_fade: bool = True   # the pull falls linearly to 0 at the finest two
  guide_trust: float = 3.0  # pull drops where the match is > this x median
  finish: bool = True       # seams removed at full size (whole_photo)
  shrink_holes: bool = True  # coarse holes shrink (PatchMatch's pyramid)
  fresh_start: bool = False  # a random match competes with the carried one
  search_finest: bool = True  # the finest level searches (else: it votes
  #   the carried match, as levels above max_search_side do)
  texture_weight: float = 3.0  # Newson's texture channels (|Ix|, |Iy| of
  #   the photo, averaged down the pyramid) x this, matched and voted with
  #   the colours, so smooth sources are not copied into texture (0: off)
  texture_finest: bool = True  # ... at the finest level too


def for_size(settings: Settings, hw) -> Settings:
  """`settings` for a region of size hw: the larger patch for a large
  region, whose structures span more pixels (PatchMatch's best radius grows
  the same way: docs/quality.md)."""
  if settings.large_side and max(hw) >= settings.large_side:
    return settings._replace(patch=settings.large_patch)
  return settings


def kernel(settings: Settings) -> pm.Kernel:
  """The per-level kernel's part of `settings`."""
  return pm.Kernel(**{k: getattr(settings, k) for k in pm.Kernel._fields})


def _fast_key(key):
  """A key of XLA's own generator: its sampling compiles in a fraction of
  threefry's time, and the searches need many samples, not crypto."""
  seed = jax.random.randint(key, (), 0, np.iinfo(np.int32).max)
  return jax.random.key(int(seed), impl='unsafe_rbg')


def _pad_to(x, shape, mode='edge'):
  pad = [(0, s - d) for s, d in zip(shape, x.shape)]
  return np.pad(x, pad + [(0, 0)] * (x.ndim - len(shape)), mode=mode)


def _shape(h: int, w: int, small: int):
  """The padded shape of a level: levels within small x small share one."""
  if h <= small and w <= small:
    return small, small
  return pm.bucket(h), pm.bucket(w)


def synthesize(image, hole, guide, key, settings: Settings = Settings()):
  """Fills `hole` of `image` from its own patches, coarse to fine, the
  structure pulled towards `guide`.

  Args:
    image: float32 [H, W, 3] in [0, 1] (hole pixels are ignored).
    hole: bool [H, W].
    guide: float32 [h, w, 3]: the network's fill of the same region at any
      (coarser) scale, known pixels included.
    key: jax PRNG key (the searches are random).
  Returns:
    float32 [H, W, 3]: `image` with its hole filled; known pixels unchanged.
  """
  return synthesize_samples(image, hole, np.asarray(guide, np.float32)[None],
                            [key], settings)[0]


class Level(NamedTuple):
  """What one pyramid level does (all static: it picks the program)."""
  hw: Tuple[int, int]       # the level's size
  padded: Tuple[int, int]   # its arrays' size
  origin: Tuple[int, int]   # the target box: every pixel whose patch
  box: Tuple[int, int]      #   touches the hole
  only_vote: bool           # the carried match voted, no search
  colours_only: bool        # the texture channels dropped here
  carried: bool             # a match comes from the coarser level
  rounds: int
  iters: int
  weight: float             # the pull towards the guide
  vote_patch: int
  best: bool                # the last vote best-only


class Plan(NamedTuple):
  """The pyramid of one photo and hole, each level's Level (None: no
  hole there), and its compiled search (a Future), for k samples."""
  pyramid: list
  levels: list
  programs: dict


def plan(image, hole, k: int, settings: Settings = Settings()) -> Plan:
  """The pyramid and the level schedule of `synthesize_samples` for k
  samples.  The searched levels start compiling at once, in parallel
  threads (XLA compiles one program on one core), so that they compile
  while the caller runs the network; a size seen before reuses its
  program."""
  settings = for_size(settings, np.shape(hole))
  levels = pp.pyramid(image, hole, settings.min_side, settings.shrink_holes)
  coarsest = max(len(levels) - 1, 1)
  r = settings.patch // 2
  # Levels above max_search_side only vote: the finest searched level gets
  # the finest level's schedule, so a large photo costs about what a photo
  # of max_search_side does.
  vote_only = sum(max(hl.shape) > settings.max_search_side
                  for _, hl in levels[:-1])
  specs = [None] * len(levels)
  carried = False
  for depth in range(len(levels) - 1, -1, -1):
    hl = levels[depth][1]
    if not hl.any():
      carried = False
      continue
    h, w = hl.shape
    hp, wp = _shape(h, w, settings.small_side)
    ys, xs = np.nonzero(hl)
    y_lo, x_lo = max(0, ys.min() - r), max(0, xs.min() - r)
    th = min(hp, pm.bucket(min(h, ys.max() + 1 + r) - y_lo))
    tw = min(wp, pm.bucket(min(w, xs.max() + 1 + r) - x_lo))
    if max(hp, wp) <= settings.whole_side:  # one compiled level per size
      th, tw = hp, wp
    weight = settings.guide_weight
    if settings.guide_fade:
      weight *= min(1.0, max(0.0, (depth - 1) / max(coarsest - 1, 1)))
    step = max(0, depth - vote_only)
    only_vote = carried and (max(h, w) > settings.max_search_side or
                             (depth == 0 and not settings.search_finest))
    specs[depth] = Level(
        hw=(h, w), padded=(hp, wp),
        origin=(int(min(y_lo, hp - th)), int(min(x_lo, wp - tw))),
        box=(th, tw), only_vote=only_vote,
        colours_only=only_vote or (depth == 0 and not settings.texture_finest),
        carried=carried,
        rounds=max(settings.min_rounds, min(settings.max_rounds, 1 + 2 * step)),
        iters=max(settings.min_rounds, min(settings.max_iters, 1 + step)),
        weight=weight,
        vote_patch=((settings.final_vote_patch if depth == 0 else 0)
                    or settings.vote_patch or settings.patch),
        best=settings.best_final and depth == 0)
    carried = True
  if settings.texture_weight > 0:  # only where it is searched
    texture = pp.pyramid(pp.texture_channels(image, hole,
                                             settings.texture_weight),
                         hole, settings.min_side, settings.shrink_holes)
    levels = [lv if s and s.colours_only else
              (np.concatenate([lv[0], t], -1), lv[1])
              for lv, (t, _), s in zip(levels, texture, specs)]
  searched = [d for d in range(len(levels) - 1, -1, -1)
              if specs[d] is not None and not specs[d].only_vote]
  programs = {}
  if searched:
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(len(searched), os.cpu_count() or 1))
    submitted = {}
    for d in searched:  # coarse first: the first needed
      key = (k, specs[d].padded, levels[d][0].shape[-1], specs[d].box,
             kernel(settings), specs[d].vote_patch, specs[d].best)
      if key not in submitted:  # levels of one shape compile once
        submitted[key] = pool.submit(_program, *key)
      programs[d] = submitted[key]
    pool.shutdown(wait=False)
  return Plan(levels, specs, programs)


# A compiled level holds ~400 memory maps on a CPU (its code sections),
# and a process may hold 65530: a few photos' worth are kept, not all.
@functools.lru_cache(maxsize=16)
def _program(k: int, padded, channels: int, box, kern: pm.Kernel,
             vote_patch: int, best: bool):
  """pm.levels compiled for k samples of these shapes (kept: a photo of a
  size seen recently compiles nothing)."""
  hp, wp = padded
  key = _fast_key(jax.random.PRNGKey(0))
  images = jnp.zeros((k, hp, wp, channels), jnp.float32)
  mask = jnp.zeros((hp, wp), bool)
  return pm.levels.lower(
      jnp.stack([key] * k), key, images[0], mask, mask, images[..., :3],
      images,
      jnp.zeros((k,) + tuple(box) + (2,), jnp.int32),
      jnp.zeros(2, jnp.int32), jnp.int32(0), jnp.int32(0), jnp.bool_(False),
      jnp.float32(0.0), jnp.int32(0), box_shape=tuple(box), kernel=kern,
      vote_patch=vote_patch, best=best).compile()


def synthesize_samples(image, hole, guides, keys,
                       settings: Settings = Settings(),
                       schedule: Optional[Plan] = None):
  """`synthesize` for k guides (the network's samples) in one pass: each
  level is one compiled call for all k, and the source side of a level
  (its valid pixels, PCA and features) is computed once.

  Args:
    image, hole: as for `synthesize`.
    guides: float32 [k, h, w, 3].
    keys: k jax PRNG keys, one search per guide (the first also draws each
      level's PCA sample, shared by all).
    schedule: `plan(image, hole, k, settings)`, if the caller made it
      (to compile while it ran the network).
  Returns:
    float32 [k, H, W, 3].
  """
  values, origin = synthesize_box(image, hole, guides, keys, settings,
                                  schedule)
  return pp.paste(np.asarray(image, np.float32), values,
                  np.asarray(hole, bool), origin)


def synthesize_box(image, hole, guides, keys, settings: Settings = Settings(),
                   schedule: Optional[Plan] = None):
  """`synthesize_samples`, but only the box around the hole comes back, so
  a large photo is never copied k times: (values float32 [k, bh, bw, 3],
  origin (y0, x0)); every hole pixel lies in the box, and its other pixels
  are the image's."""
  guides = np.asarray(guides, np.float32)
  k = len(keys)
  schedule = schedule or plan(image, hole, k, settings)
  prev = None  # the coarser level's match, in its target box
  fill = None  # the coarser level's fill: (its box [k, bh, bw, C], origin,
  #              depth); outside the box that level's image
  for depth in range(len(schedule.levels) - 1, -1, -1):
    img, hl = schedule.pyramid[depth]
    spec = schedule.levels[depth]
    if spec is None:
      fill = (np.zeros((k, 0, 0, img.shape[-1]), np.float32), (0, 0), depth)
      prev = None
      continue
    (h, w), (hp, wp), (y0, x0), (th, tw) = (spec.hw, spec.padded,
                                            spec.origin, spec.box)
    if spec.colours_only:  # e.g. no search: the colours are all it votes
      img = img[..., :3]
    channels = img.shape[-1]
    coarse = None if fill is None else pp.paste(
        schedule.pyramid[fill[2]][0][..., :channels],
        fill[0][..., :channels], schedule.pyramid[fill[2]][1], fill[1])
    nnf = (np.zeros((k, th, tw, 2), np.int32) if prev is None
           else pp.carry(*prev, (h, w), (y0, x0), (th, tw)))
    y1, x1 = min(h, y0 + th), min(w, x0 + tw)
    if spec.only_vote:  # the box only: sources are read where they lie
      starts = pp.upsample_box(coarse, (h, w), (y0, x0), (th, tw))
      known = _pad_to(img[y0:y1, x0:x1], (th, tw))
      box_hole = _pad_to(hl[y0:y1, x0:x1], (th, tw), mode='constant')
      starts = np.where(box_hole[..., None], starts, known)
      box = pp.vote_box(img, hl, starts, nnf, (y0, x0),
                        spec.vote_patch)[:, :y1 - y0, :x1 - x0]
    else:
      box, nnf = _search_level(schedule.programs[depth], spec, depth, img,
                               hl, coarse, guides, keys, nnf, settings)
      box = np.where(hl[y0:y1, x0:x1, None], box[:, y0:y1, x0:x1],
                     img[y0:y1, x0:x1])
    prev = (np.asarray(nnf), (y0, x0), (h, w))
    fill = (box, (y0, x0), depth)
  if fill is None or fill[2] != 0:
    return np.zeros((k, 0, 0, 3), np.float32), (0, 0)
  return np.ascontiguousarray(fill[0][..., :3], np.float32), fill[1]


def _search_level(program, spec: Level, depth: int, img, hl, coarse, guides,
                  keys, nnf, settings: Settings):
  """One searched level, whole: (its fill [k, hp, wp, C], the match)."""
  k = len(keys)
  (h, w), (hp, wp), (y0, x0) = spec.hw, spec.padded, spec.origin
  inside = np.pad(np.ones((h, w), bool), ((0, hp - h), (0, wp - w)))
  guides_up = None if coarse is not None and spec.weight == 0 else np.stack(
      [pp.resize(g, (h, w)) for g in guides])
  if coarse is None:
    starts = guides_up
    if img.shape[-1] > 3:  # the guide's colours, the mean visible texture
      texture = img[~hl][:, 3:].mean(0) if (~hl).any() else 0.0
      starts = np.concatenate([starts, np.broadcast_to(
          texture, (k, h, w, img.shape[-1] - 3))], -1)
  else:
    starts = pp.upsample_box(coarse, (h, w), (0, 0), (h, w))
  current_p = _pad_to(np.where(hl[..., None], starts, img), (k, hp, wp))
  sigma = settings.guide_sigma * max(w / guides.shape[2], 1.0)
  level_keys = [_fast_key(jax.random.fold_in(key, depth)) for key in keys]
  out, nnf, _ = program.result()(
      jnp.stack(level_keys), level_keys[0], jnp.asarray(_pad_to(img, (hp, wp))),
      jnp.asarray(_pad_to(hl, (hp, wp), mode='constant')),
      jnp.asarray(inside),
      # Without a pull the guide is not read: the current fill stands in.
      jnp.asarray(current_p[..., :3] if guides_up is None
                  else _pad_to(guides_up, (k, hp, wp))),
      jnp.asarray(current_p), jnp.asarray(nnf),
      jnp.asarray([y0, x0], jnp.int32),
      jnp.int32(spec.rounds), jnp.int32(spec.iters),
      jnp.bool_(spec.carried), jnp.float32(spec.weight),
      jnp.int32(pf.blur_width(sigma)))
  return np.asarray(out), nnf

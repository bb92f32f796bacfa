"""PatchMatch on the accelerator: the per-level kernels of patch_synthesis.

All pixels at once: propagation as jump flooding, random search in halving
windows, distances on a per-level PCA of the patches (patch_features.py),
and the vote that rebuilds a level from the matched source pixels.  Shapes:
images [H, W, C] (padded; RGB first, then any texture channels that are
matched and voted like colours), guides [H, W, 3], holes and masks [H, W]
bool, a nearest-neighbour field [th, tw, 2] of absolute source coordinates
for the target box.
"""
import functools
import math
from typing import NamedTuple, Tuple

import jax
import jax.numpy as jnp

from vaegan_jax.inference import inputs
from vaegan_jax.inference import patch_features as pf

# Sides of the arrays of one level are padded to one of a few sizes per
# octave, so that photos of nearby sizes share compiled code.
_PAD_FACTOR = 16


def bucket(n: int) -> int:
  """The padded size of a level's side (inputs.bucket, multiples of 16)."""
  return inputs.bucket(n, _PAD_FACTOR)


class Kernel(NamedTuple):
  """What the per-level kernel does (static: one compile per value);
  patch_synthesis.Settings.kernel() decides it."""
  patch: int                # patch side (odd)
  dims: int                 # PCA dimensions of a patch
  samples: int              # patches that estimate the PCA
  gradients: bool           # patches compared on RGB + x/y gradients
  relative_weights: bool    # vote weights by the mean distance (else the
  #                           fixed table, `similarity`)
  sharpness: float          # ... their scale
  coherence: float          # a neighbour's match within this x is taken
  guide_trust: float        # the guide's pull drops past this x median
  fresh_start: bool         # a random match competes with the carried one


# PatchMatch's similarity of a patch distance (mean squared difference per
# pixel and channel, in [0, 1] units) at 0, 0.01, ..., 0.1: ~0 past 0.06.
_SIMILARITY = (1.0, 0.99, 0.96, 0.83, 0.38, 0.11, 0.02, 0.005, 0.0006,
               0.0001, 0.0)


def similarity(dist, scale, relative: bool, sharpness: float):
  """Vote weights of patch distances [th, tw] (inf: no match).

  relative: exp(-d / (sharpness * the level's mean d)); else PatchMatch's
  fixed table of d / scale (scale: the patch's pixels x channels), which
  falls steeply past 0.04 whatever the level's typical distance."""
  finite = jnp.isfinite(dist)
  if relative:
    mean = jnp.maximum(
        jnp.sum(jnp.where(finite, dist, 0.0))
        / jnp.maximum(jnp.sum(finite), 1), 1e-8)
    return jnp.where(finite, jnp.exp(-dist / (sharpness * mean)), 0.0)
  t = jnp.where(finite, dist / scale, 1.0) * 100.0
  table = jnp.array(_SIMILARITY + (0.0,), jnp.float32)
  j = jnp.clip(jnp.floor(t), 0, len(_SIMILARITY)).astype(jnp.int32)
  frac = jnp.clip(t - j, 0.0, 1.0)
  w = table[j] + frac * (table[jnp.minimum(j + 1, len(_SIMILARITY))]
                         - table[j])
  # A floor keeps pixels whose every vote is poor from losing all weight.
  return jnp.where(finite, jnp.maximum(w, 1e-6), 0.0)


def _distance(ft, fs, nnf):
  f = pf.at(fs, nnf[..., 0], nnf[..., 1])
  return jnp.sum(jnp.square(ft - f), axis=-1)


def _improve(ft, fs, valid, nnf, dist, cand, slack: float = 1.0):
  """Takes the candidate matches [th, tw, 2] that are better (or within
  `slack` x the distance: ties go to the candidate)."""
  h, w = valid.shape
  cand = jnp.stack([jnp.clip(cand[..., 0], 0, h - 1),
                    jnp.clip(cand[..., 1], 0, w - 1)], axis=-1)
  d = jnp.where(pf.at(valid, cand[..., 0], cand[..., 1]),
                _distance(ft, fs, cand), jnp.inf)
  better = d < dist * slack
  return jnp.where(better[..., None], cand, nnf), jnp.where(better, d, dist)


def _search(key, ft, fs, valid, nnf, dist, iters, coherence: float):
  """PatchMatch: jump-flooding propagation + random search, `iters` times.

  Loops, not unrolled code: one compiled candidate step serves them all.
  """
  h, w = valid.shape
  # (shift along y, shift along x) of the neighbour whose match is tried.
  moves = jnp.array([(s * d, 0) for s in (8, 4, 2, 1) for d in (1, -1)]
                    + [(0, s * d) for s in (8, 4, 2, 1) for d in (1, -1)],
                    jnp.int32)
  moves = moves[jnp.array([0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14,
                           7, 15])]  # y and x alternate, coarse to fine
  num_radii = max(1, int(math.log2(max(h, w))) + 1)

  def propagate(i, carry):
    nnf, dist = carry
    m = moves[i]
    neighbour = jnp.roll(nnf, (-m[0], -m[1]), axis=(0, 1))
    # A neighbour's match that is about as good is taken: matches then
    # agree over larger regions, and their votes copy sharp texture
    # instead of averaging unrelated patches.
    return _improve(ft, fs, valid, nnf, dist, neighbour - m, coherence)

  def random_search(k):
    def step(i, carry):
      nnf, dist = carry
      radius = jnp.maximum(1, max(h, w) >> i)
      u = jax.random.uniform(jax.random.fold_in(k, i), nnf.shape,
                             minval=-1.0, maxval=1.0)
      cand = nnf + jnp.round(u * radius).astype(jnp.int32)
      return _improve(ft, fs, valid, nnf, dist, cand)
    return step

  def body(it, carry):
    carry = jax.lax.fori_loop(0, moves.shape[0], propagate, carry)
    return jax.lax.fori_loop(0, num_radii,
                             random_search(jax.random.fold_in(key, it)),
                             carry)

  return jax.lax.fori_loop(0, iters, body, (nnf, dist))


def _vote(source, nnf, weight, patch: int, best: bool = False):
  """Every target pixel from the source pixels that the `patch` x `patch`
  patches around it point to: their mean weighted by `weight` [th, tw]
  (Wexler), or with `best` the one pixel of the heaviest patch (PatchMatch's
  last vote at full size: a copy, never an average, so it stays sharp)."""
  r = patch // 2
  th, tw = nnf.shape[:2]
  h, w = source.shape[:2]
  pn = jnp.pad(nnf, ((r, r), (r, r), (0, 0)), mode='edge')
  pw = jnp.pad(weight, r)

  def covering(i):
    dy, dx = i // patch - r, i % patch - r
    # The patch centred at p - d covers p with its pixel d.
    n = jax.lax.dynamic_slice(pn, (r - dy, r - dx, 0), (th, tw, 2))
    wt = jax.lax.dynamic_slice(pw, (r - dy, r - dx), (th, tw))
    ys = jnp.clip(n[..., 0] + dy, 0, h - 1)
    xs = jnp.clip(n[..., 1] + dx, 0, w - 1)
    return pf.at(source, ys, xs), wt

  def add(i, carry):
    acc, total = carry
    colour, wt = covering(i)
    if best:
      take = wt > total
      return (jnp.where(take[..., None], colour, acc),
              jnp.where(take, wt, total))
    return acc + wt[..., None] * colour, total + wt

  acc, total = jax.lax.fori_loop(
      0, patch * patch, add, (jnp.zeros((th, tw, source.shape[-1])),
                              jnp.zeros((th, tw))))
  if best:
    return acc, total > 0
  return acc / jnp.maximum(total, 1e-12)[..., None], total > 0


def _trust(dist, box_hole, factor: float):
  """Per target pixel [th, tw], how far the guide may pull: 1 where the
  match is typical for the hole, falling where no source patch resembles
  the target (distance far above the hole's median: the guide proposes
  something the photo does not have)."""
  if factor <= 0:
    return jnp.ones_like(dist)
  ok = box_hole & jnp.isfinite(dist)
  median = jnp.nanquantile(jnp.where(ok, dist, jnp.nan), 0.5)
  median = jnp.where(jnp.isfinite(median), median, 1.0)
  ratio = jnp.where(ok, dist / jnp.maximum(factor * median, 1e-12), 0.0)
  return 1.0 / (1.0 + jnp.square(ratio))


_STATIC = ('box_shape', 'kernel', 'vote_patch', 'best')


@functools.partial(jax.jit, static_argnames=_STATIC)
def level(key, image, hole, inside, guide, current, nnf, box_origin, rounds,
           iters, vote_first, guide_weight, blur, *,
           box_shape: Tuple[int, int], kernel: Kernel, vote_patch: int,
           best: bool = False):
  """One pyramid level on padded [H, W] arrays; the targets are the box
  [box_origin, box_origin + box_shape).  guide_weight: this level's pull
  towards the guide; blur: the half-width of the low-pass that the pull
  sees (blur_width); kernel: the static settings; best: the last round
  votes best-only.  Returns (current, nnf, dist)."""
  return _level(key, key, image, hole, inside, guide, current, nnf,
                box_origin, rounds, iters, vote_first, guide_weight, blur,
                box_shape=box_shape, kernel=kernel, vote_patch=vote_patch,
                best=best)


@functools.partial(jax.jit, static_argnames=_STATIC)
def levels(keys, pca_key, image, hole, inside, guides, current, nnf,
           box_origin, rounds, iters, vote_first, guide_weight, blur, *,
           box_shape: Tuple[int, int], kernel: Kernel, vote_patch: int,
           best: bool = False):
  """`level` for k samples of one photo in one call: keys, guides [k, H,
  W, 3], current [k, H, W, 3] and nnf [k, th, tw, 2] carry a sample axis.
  The source side (valid pixels, the PCA from `pca_key`, the source
  features) does not depend on the sample and is computed once."""
  run = functools.partial(_level, box_shape=box_shape, kernel=kernel,
                          vote_patch=vote_patch, best=best)
  return jax.vmap(run, in_axes=(0, None, None, None, None, 0, 0, 0, None,
                                None, None, None, None, None))(
                                    keys, pca_key, image, hole, inside,
                                    guides, current, nnf, box_origin, rounds,
                                    iters, vote_first, guide_weight, blur)


def _level(key, pca_key, image, hole, inside, guide, current, nnf,
           box_origin, rounds, iters, vote_first, guide_weight, blur, *,
           box_shape, kernel, vote_patch, best):
  p = kernel.patch
  r = p // 2
  th, tw = box_shape
  grads = kernel.gradients
  valid = pf.valid_sources(hole, inside, p + 2 if grads else p)
  pulled = guide_weight > 0
  # Without a pull (the finest levels) the blurs, two passes over the whole
  # level per round, are skipped.
  guide_low = jax.lax.cond(pulled, pf.box_blur, lambda g, b: g, guide, blur)
  k_pca = jax.random.split(pca_key, 3)[0]
  _, k_init, k_search = jax.random.split(key, 3)
  fimage = pf.features(image, grads)
  scale = float(p * p * fimage.shape[-1])
  filters = pf.pca_filters(k_pca, fimage, valid, p, kernel.dims,
                         kernel.samples)
  fs = pf.conv(fimage, filters, 'SAME')
  y0, x0 = box_origin[0], box_origin[1]
  box_hole = jax.lax.dynamic_slice(hole, (y0, x0), (th, tw))

  def write(cur, voted, ok):
    old = jax.lax.dynamic_slice(cur, (y0, x0, 0), (th, tw, cur.shape[-1]))
    new = jnp.where((box_hole & ok)[..., None], voted, old)
    return jax.lax.dynamic_update_slice(cur, new, (y0, x0, 0))

  def target_features(cur, dist=None):
    def pull_towards_guide(cur):
      trust = (jnp.ones((th, tw)) if dist is None
               else _trust(dist, box_hole, kernel.guide_trust))
      pull = jax.lax.dynamic_update_slice(
          jnp.ones(cur.shape[:2]), trust, (y0, x0)) * guide_weight
      rgb = cur[..., :3]  # the guide has colours only
      return cur.at[..., :3].set(
          rgb + pull[..., None] * (guide_low - pf.box_blur(rgb, blur)))
    t = jax.lax.cond(pulled, pull_towards_guide, lambda c: c, cur)
    t = jnp.pad(pf.features(t, grads), ((r, r), (r, r), (0, 0)), mode='edge')
    t = jax.lax.dynamic_slice(t, (y0, x0, 0),
                              (th + 2 * r, tw + 2 * r, t.shape[-1]))
    return pf.conv(t, filters, 'VALID')

  def vote(cur, nnf, dist, best_only=False):
    if best_only:
      weight = jnp.where(jnp.isfinite(dist), 1.0 / (1e-9 + dist), 0.0)
    else:
      weight = similarity(dist, scale, kernel.relative_weights,
                          kernel.sharpness)
    voted, ok = _vote(image, nnf, weight, vote_patch, best_only)
    return write(cur, voted, ok)

  # The NNF carried up from the coarser level (or random) competes with a
  # fresh random match per pixel.
  dist = jnp.full((th, tw), jnp.inf)
  ft = target_features(current)
  nnf, dist = _improve(ft, fs, valid, nnf, dist, nnf)

  def try_fresh(nnf, dist):
    fresh = pf.sample_valid(k_init, valid, (th, tw))
    return _improve(ft, fs, valid, nnf, dist, fresh)
  if kernel.fresh_start:
    nnf, dist = try_fresh(nnf, dist)
  else:  # Only where no match was carried up.
    nnf, dist = jax.lax.cond(vote_first, lambda n, d: (n, d), try_fresh,
                             nnf, dist)
  # The carried match, voted with this level's pixels: sharp from the start.
  current = jax.lax.cond(vote_first, vote, lambda c, n, d: c, current, nnf,
                         dist)

  def round_(i, carry):
    current, nnf, dist = carry
    ft = target_features(current, dist)
    dist = _distance(ft, fs, nnf)
    dist = jnp.where(pf.at(valid, nnf[..., 0], nnf[..., 1]), dist, jnp.inf)
    nnf, dist = _search(jax.random.fold_in(k_search, i), ft, fs, valid, nnf,
                        dist, iters, kernel.coherence)
    if best:
      current = jax.lax.cond(i == rounds - 1,
                             lambda c: vote(c, nnf, dist, True),
                             lambda c: vote(c, nnf, dist), current)
    else:
      current = vote(current, nnf, dist)
    return current, nnf, dist

  return jax.lax.fori_loop(0, rounds, round_, (current, nnf, dist))

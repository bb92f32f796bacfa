"""Random hole masks for inpainting, drawn with graph-mode TF ops.

Mask types (1 = hole, 0 = valid):
  free_form: DeepFill v2 brush strokes united with one box (Yu et al., 2019).
  thin, medium, thick, box: LaMa strokes and boxes (Suvorov et al., 2022).
Pixel sizes are the papers' values at 256x256, scaled by sqrt(H * W) / 256.

Masks come from stateless seeds, so a (seed, index) pair always gives the same
mask whatever the threading or sharding.  All types share one graph: a stroke
is a chain of capsules (segments with round caps) and a box is a capsule
without caps.  A capsule covers one x-interval of each row it touches, and a
prefix sum over a difference array of the intervals gives the coverage: the
cost is O(rows touched + H * W), not O(shapes * H * W), in few ops, since
tf.data map functions pay a fixed cost per op.
"""
import collections
import fractions
import math

import numpy as np
import tensorflow as tf

from vaegan_jax import rasterize

MASK_TYPES = ('free_form', 'thin', 'medium', 'thick', 'box')
MAX_TRIES = 10  # Draws per mask before falling back to an exact-ratio box.

_MIN_WIDTH = 1.5  # Brush radius >= sqrt(2) / 2 always covers a pixel centre.
_MAX_PIXELS = 2**24  # Pixel indices are exact in float32 up to here.

# Per type at 256x256, ranges inclusive: stroke count, segments per stroke,
# brush width, segment length (None: DeepFill's normal steps), the chance of
# adding boxes, box count, box side and margin.
_Spec = collections.namedtuple(
    '_Spec', 'strokes segments width length box_proba boxes side margin')
_SPECS = {
    'free_form': _Spec((1, 3), (4, 11), (12, 40), None, 1., (1, 1),
                       (96, 128), 0),
    'thin': _Spec((4, 50), (1, 5), (3, 10), (10, 40), 0., (0, 0), (1, 1), 0),
    'medium': _Spec((4, 5), (1, 5), (5, 50), (10, 100), 0.3, (1, 5),
                    (10, 50), 0),
    'thick': _Spec((1, 5), (1, 5), (5, 100), (10, 200), 0.3, (1, 3),
                   (30, 150), 0),
    'box': _Spec((0, 0), (1, 1), (1, 1), (0, 0), 1., (1, 4), (30, 150), 10),
}
_MAX_ANGLE = 4.  # LaMa: segment directions span 4 rad.
_FF_ANGLE, _FF_SPREAD = 2. * math.pi / 5., 2. * math.pi / 15.  # DeepFill.

# One type's settings at one image size, in pixels.
_Settings = collections.namedtuple('_Settings', [
    'free_form', 'strokes_lo', 'strokes_hi', 'segments_lo', 'segments_hi',
    'width_lo', 'width_hi', 'length_lo', 'length_hi', 'box_proba',
    'boxes_lo', 'boxes_hi', 'side_lo', 'side_hi', 'margin'])


def _settings(kind, height, width):
  spec = _SPECS[kind]
  s = math.sqrt(height * width) / 256.
  margin = min(math.floor(spec.margin * s), (min(height, width) - 1) // 2)
  side_hi = max(min(spec.side[1] * s, height - 2 * margin,
                    width - 2 * margin), 1.)
  return _Settings(
      float(spec.length is None), *spec.strokes, *spec.segments,
      *(max(w * s, _MIN_WIDTH) for w in spec.width),
      *(l * s for l in spec.length or (0, 0)), spec.box_proba, *spec.boxes,
      min(max(spec.side[0] * s, 1.), side_hi), side_hi, margin)


def _randint(u, lo, hi):
  """Maps uniforms in [0, 1) to integer-valued floats in [lo, hi]."""
  return tf.minimum(tf.floor(lo + u * (hi - lo + 1.)), hi)


def _pick(flag, if_true, if_false):
  """Chooses between two thunks by a Python bool or, elementwise, a tensor."""
  if isinstance(flag, bool):
    return if_true() if flag else if_false()
  return tf.where(flag, if_true(), if_false())


def _strokes(seed, p, ff, n, v, height, width):
  """Capsules of up to n strokes of up to v segments (DeepFill if ff)."""
  u_head, u_start, u_angle, u_length, u_width = tf.split(
      tf.random.stateless_uniform([n, 8 + 3 * v], seed), [6, 2, v, v, v], 1)
  active = ((np.arange(n)[:, None] <
             _randint(u_head[0, 0], p.strokes_lo, p.strokes_hi)) &
            (np.arange(v) <
             _randint(u_head[:, 1:2], p.segments_lo, p.segments_hi)))
  # DeepFill flips the whole mask at random to undo the bias of its mean
  # angle; clipping is symmetric, so flipping start and steps is the same.
  flip = tf.where(u_head[0, 4:6] < 0.5, -1., 1.)
  limit = tf.constant([width - 1., height - 1.])
  start = u_start * limit
  start = _pick(ff, lambda: tf.where(flip < 0., limit - start, start),
                lambda: start)

  def ff_steps():
    # Angles in [mean - U * spread, mean + U' * spread] per stroke; even
    # vertices use 2 pi - angle.
    angle = (_FF_ANGLE - _FF_SPREAD * u_head[:, 2:3] +
             _FF_SPREAD * (u_head[:, 2:3] + u_head[:, 3:4]) * u_angle)
    sign = np.stack([np.ones(v), np.where(np.arange(v) % 2, 1., -1.)], 1)
    mean = math.sqrt(height**2 + width**2) / 8.
    step = tf.clip_by_value(tf.random.stateless_normal(
        [n, v], tf.random.experimental.stateless_fold_in(seed, 1), mean,
        mean / 2.), 0., 2. * mean)
    direction = tf.sin(angle[..., None] + [math.pi / 2., 0.])  # (cos, sin).
    return step[..., None] * direction * (sign.astype(np.float32) * flip)

  def lama_steps():
    # Angles from straight down; even strokes use 2 pi - angle.
    sign = np.ones([n, 1, 2], np.float32)
    sign[::2, :, 0] = -1.
    length = p.length_lo + (p.length_hi - p.length_lo) * u_length
    direction = tf.sin(_MAX_ANGLE * u_angle[..., None] + [0., math.pi / 2.])
    return length[..., None] * direction * sign

  # As in both references, vertices are clipped into the image, so strokes
  # slide along the border instead of leaving it.
  points = [start]
  for step in tf.unstack(_pick(ff, ff_steps, lama_steps), axis=1):
    points.append(tf.minimum(tf.maximum(points[-1] + step, 0.), limit))
  a = tf.reshape(tf.stack(points[:-1], 1), [-1, 2])
  b = tf.reshape(tf.stack(points[1:], 1), [-1, 2])
  # DeepFill keeps one brush width per stroke, LaMa draws one per segment.
  u_width = _pick(ff, lambda: tf.broadcast_to(u_width[:, :1], [n, v]),
                  lambda: u_width)
  radius = 0.5 * (p.width_lo + (p.width_hi - p.width_lo) * u_width)
  return a, b, tf.reshape(radius, [-1]), tf.reshape(active, [-1])


def _boxes(seed, p, n, height, width):
  """Up to n boxes, as capsules without caps along their middle rows."""
  u_head, u_side, u_corner = tf.split(
      tf.random.stateless_uniform([n, 6], seed), 3, 1)
  active = ((np.arange(n) < _randint(u_head[0, 0], p.boxes_lo, p.boxes_hi)) &
            (u_head[0, 1] < p.box_proba))
  sides = tf.floor(p.side_lo + (p.side_hi - p.side_lo) * u_side)  # (w, h).
  room = tf.constant([width, height], tf.float32) - 2. * p.margin - sides
  corner = p.margin + _randint(u_corner, 0., room)
  # Half-pixel margins keep pixel centres off the edges.
  a = corner + sides * [0., 0.5] - 0.5
  return a, a + sides * [1., 0.], 0.5 * sides[:, 1], active


class _Plan:
  """Static layout for drawing any of a set of mask types at one size."""

  def __init__(self, kinds, height, width):
    self.height, self.width = height, width
    self.table = [_settings(k, height, width) for k in kinds]
    top = _Settings(*(max(column) for column in zip(*self.table)))
    self.strokes, self.segments = int(top.strokes_hi), int(top.segments_hi)
    self.boxes = int(top.boxes_hi) if top.box_proba > 0 else 0
    flags = {s.free_form > 0 for s in self.table if s.strokes_hi > 0}
    self.free_form = flags.pop() if len(flags) == 1 else None

  def draw(self, seed, index=None):
    """float32 [H, W] mask of kind `index` (int tensor) or of the only kind."""
    if index is None:
      p, ff = self.table[0], self.free_form
    else:
      p = _Settings(*tf.unstack(tf.gather(
          np.array(self.table, np.float32), index)))
      ff = p.free_form > 0.5 if self.free_form is None else self.free_form
    stroke_seed, box_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 2))
    parts, caps = [], []
    if self.strokes:
      parts.append(_strokes(stroke_seed, p, ff, self.strokes, self.segments,
                            self.height, self.width))
      caps.append(np.ones(self.strokes * self.segments, bool))
    if self.boxes:
      parts.append(_boxes(box_seed, p, self.boxes, self.height, self.width))
      caps.append(np.zeros(self.boxes, bool))
    a, b, radius, active = (tf.concat(x, 0) for x in zip(*parts))
    rows, lo, hi = rasterize.capsule_spans(a, b, radius, active, np.concatenate(caps),
                                  self.height)
    return rasterize.render(rows, lo, hi, self.height, self.width)


def _check_size(height, width):
  height, width = int(height), int(width)
  if height < 1 or width < 1 or height * width > _MAX_PIXELS:
    raise ValueError(f'mask size {height}x{width} must be positive with at '
                     f'most {_MAX_PIXELS} pixels.')
  return height, width


def _check_config(masks_config, height, width):
  """Returns (types, weights, min_holes, max_holes) or raises ValueError."""
  kinds, weights = [], []
  for kind in MASK_TYPES:
    if not hasattr(masks_config, kind):
      raise ValueError(f'masks config has no weight {kind!r}; set '
                       f'config.masks.{kind} (0 disables the type).')
    weight = float(getattr(masks_config, kind))
    if not 0. <= weight < math.inf:
      raise ValueError(f'config.masks.{kind} = {weight}; mixture weights must '
                       'be finite and >= 0.')
    if weight > 0:
      kinds.append(kind)
      weights.append(weight)
  if not kinds:
    raise ValueError('all mask mixture weights are 0; give at least one of '
                     f'config.masks.{{{",".join(MASK_TYPES)}}} a weight > 0.')
  lo, hi = float(masks_config.min_ratio), float(masks_config.max_ratio)
  if not 0. <= lo <= hi <= 1.:
    raise ValueError(f'hole ratio range [{lo}, {hi}] is invalid; set 0 <= '
                     'config.masks.min_ratio <= max_ratio <= 1.')
  pixels = height * width
  # Exact rationals, so the ratio of any count in range, computed in
  # float64, lies in [lo, hi].
  min_holes = math.ceil(fractions.Fraction(lo) * pixels)
  max_holes = math.floor(fractions.Fraction(hi) * pixels)
  if min_holes > max_holes:
    raise ValueError(f'no {height}x{width} mask has a hole ratio in [{lo}, '
                     f'{hi}] (ratios move in steps of 1/{pixels}); widen '
                     'config.masks.min_ratio..max_ratio.')
  return kinds, weights, min_holes, max_holes


def check_config(masks_config, height: int, width: int) -> None:
  """Raises ValueError, saying how to fix it, for an unusable mask config."""
  _check_config(masks_config, *_check_size(height, width))


def _exact_box(seed, height, width, min_holes, max_holes):
  """A box of w columns filled row by row with k holes, min <= k <= max."""
  u = tf.random.stateless_uniform([4], seed)
  k = _randint(u[0], min_holes, max_holes)
  aspect = tf.exp((2. * u[1] - 1.) * math.log(2.))  # In [1/2, 2].
  # w >= k / height keeps the rows within the image.
  w = tf.clip_by_value(tf.round(tf.sqrt(k * aspect)),
                       tf.maximum(tf.math.ceil(k / height), 1.), width)
  h = tf.math.ceil(k / w)
  y = (tf.range(height, dtype=tf.float32)[:, None] -
       _randint(u[2], 0., height - h))
  x = tf.range(width, dtype=tf.float32) - _randint(u[3], 0., width - w)
  hole = (x >= 0.) & (x < w) & (y >= 0.) & (y * w + x < k)
  return tf.cast(hole, tf.float32)


@tf.autograph.experimental.do_not_convert
def generate_mask_of_type(kind, seed, height, width):
  """float32 [height, width] 0/1 mask (1 = hole) of type `kind`.

  `seed` is an int32/int64 tensor [2] for the stateless random ops.
  """
  height, width = _check_size(height, width)
  if kind not in MASK_TYPES:
    raise ValueError(f'unknown mask type {kind!r}; expected one of '
                     f'{MASK_TYPES}.')
  return _Plan([kind], height, width).draw(seed)


@tf.autograph.experimental.do_not_convert
def generate_mask(seed, height, width, masks_config):
  """Draws a mask from the configured mixture with its hole ratio in range.

  Each try draws a type and a shape from seeds derived from `seed`, giving a
  draw from the mixture conditioned on the ratio range; after MAX_TRIES
  misses, a box with a ratio drawn in the range stands in.

  Args:
    seed: int32/int64 tensor [2], a stateless seed.
    height, width: Python ints.
    masks_config: mixture weights (attributes named as in MASK_TYPES; need
      not sum to 1) and min_ratio, max_ratio.

  Returns:
    float32 [height, width, 1] of exact 0/1 values, 1 = hole.
  """
  height, width = _check_size(height, width)
  kinds, weights, min_holes, max_holes = _check_config(
      masks_config, height, width)
  seed = tf.convert_to_tensor(seed)
  plan = _Plan(kinds, height, width)
  fold_in = tf.random.experimental.stateless_fold_in

  def draw(i):
    kind_seed, shape_seed = tf.unstack(
        tf.random.experimental.stateless_split(fold_in(seed, i), 2))
    if len(kinds) == 1:
      return plan.draw(shape_seed)
    index = tf.random.stateless_categorical(
        tf.math.log([weights]), 1, kind_seed)[0, 0]
    return plan.draw(shape_seed, index)

  if min_holes == 0 and max_holes == height * width:
    return draw(0)[:, :, None]

  def in_range(count):
    return (count >= min_holes) & (count <= max_holes)

  def retry(i, mask, count):
    del mask, count
    mask = draw(i)
    return i + 1, mask, tf.reduce_sum(mask)

  _, mask, count = tf.while_loop(
      lambda i, mask, count: (i < MAX_TRIES) & ~in_range(count), retry,
      (tf.constant(0), tf.zeros([height, width]), tf.constant(-1.)))
  mask = tf.cond(in_range(count), lambda: mask,
                 lambda: _exact_box(fold_in(seed, MAX_TRIES), height, width,
                                    min_holes, max_holes))
  return mask[:, :, None]


@tf.autograph.experimental.do_not_convert
def mask_for_index(seed, index, height, width, masks_config):
  """Mask of example `index` (int tensor) under Python int `seed`.

  The float32 [height, width, 1] result equals element `index` of
  mask_dataset(seed, height, width, masks_config).
  """
  seed = int(seed)
  base = tf.constant([seed >> 32, seed & 0xFFFFFFFF], tf.int64)
  return generate_mask(
      tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64)),
      height, width, masks_config)


def mask_dataset(seed, height, width, masks_config, start_index=0):
  """Endless dataset of float32 [height, width, 1] masks.

  Element i is mask_for_index(seed, start_index + i, ...), so a resumed
  pipeline reproduces the same masks.  The dataset sets
  max_intra_op_parallelism = 1 (ops are small; parallel calls scale better),
  which merges into pipelines built on it.
  """
  _check_config(masks_config, *_check_size(height, width))
  fn = lambda i: mask_for_index(seed, i, height, width, masks_config)
  options = tf.data.Options()
  options.threading.max_intra_op_parallelism = 1
  # Dataset.counter runs a scan per element; range is cheaper.
  return tf.data.Dataset.range(int(start_index), 2**63 - 1).map(
      tf.autograph.experimental.do_not_convert(fn),
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True).with_options(options)


def fixed_masks(seed, num, height, width, masks_config):
  """float32 [num, height, width, 1] masks, identical on every run."""
  if num <= 0:
    return np.zeros([0, height, width, 1], np.float32)
  dataset = mask_dataset(seed, height, width, masks_config).take(num)
  return next(dataset.batch(num).as_numpy_iterator())


def hole_ratio(mask):
  """Fraction of hole pixels of [..., H, W, 1] masks, float64 in [0, 1]."""
  return np.mean(np.asarray(mask, np.float64), axis=(-3, -2, -1))

"""Strokes and boxes of many masks at once, as capsules (see rasterize.py).

Pixel sizes are the papers' values at 256x256, scaled by sqrt(H * W) / 256.
A stroke is a chain of capsules (segments with round caps) and a box is a
capsule without caps.  Each mask has its own stateless seed: its random
draws run per mask in a map, and so do the sines of stroke directions,
whose last bit in Eigen depends on where an element sits in its tensor.
Everything else is exact arithmetic and runs once for the whole batch, since
tf.data pays a fixed cost per op.  So a mask is the same in any batch.
"""
import collections
import math

import numpy as np
import tensorflow as tf

from vaegan_jax.data import rasterize

_MIN_WIDTH = 1.5  # Brush radius >= sqrt(2) / 2 always covers a pixel centre.

# Per type at 256x256, ranges inclusive: stroke count, segments per stroke,
# brush width, segment length (None: DeepFill's normal steps), the chance of
# adding boxes, box count, box side and margin.
_Spec = collections.namedtuple(
    '_Spec', 'strokes segments width length box_proba boxes side margin')
SPECS = {
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
  spec = SPECS[kind]
  s = math.sqrt(height * width) / 256.
  margin = min(math.floor(spec.margin * s), (min(height, width) - 1) // 2)
  side_hi = max(min(spec.side[1] * s, height - 2 * margin,
                    width - 2 * margin), 1.)
  return _Settings(
      float(spec.length is None), *spec.strokes, *spec.segments,
      *(max(w * s, _MIN_WIDTH) for w in spec.width),
      *(l * s for l in spec.length or (0, 0)), spec.box_proba, *spec.boxes,
      min(max(spec.side[0] * s, 1.), side_hi), side_hi, margin)


def randint(u, lo, hi):
  """Maps uniforms in [0, 1) to integer-valued floats in [lo, hi]."""
  return tf.minimum(tf.floor(lo + u * (hi - lo + 1.)), hi)


def _pick(flag, if_true, if_false):
  """Chooses between two thunks by a Python bool or, elementwise, a tensor."""
  if isinstance(flag, bool):
    return if_true() if flag else if_false()
  return tf.where(flag, if_true(), if_false())


class ShapeTable:
  """Static layout for drawing masks of a set of types at one size.

  Every mask gets room for the most strokes, segments and boxes of any type;
  the unused ones are inactive.
  """

  def __init__(self, kinds, weights, height, width):
    self.height, self.width = height, width
    self.table = [_settings(k, height, width) for k in kinds]
    self.weights = [float(w) for w in weights]
    top = _Settings(*(max(column) for column in zip(*self.table)))
    self.strokes, self.segments = int(top.strokes_hi), int(top.segments_hi)
    self.boxes = int(top.boxes_hi) if top.box_proba > 0 else 0
    flags = {s.free_form > 0 for s in self.table if s.strokes_hi > 0}
    self.free_form = flags.pop() if len(flags) == 1 else None

  def _draws(self, seeds, tries):
    """Per-mask random numbers and stroke directions for seeds [m, 2].

    With `tries` (an int32 scalar), mask i uses the seed split from
    fold_in(seeds[i], tries) and draws its type; otherwise seeds[i] itself
    and the first type.
    """
    n, v, fold_in = self.strokes, self.segments, (
        tf.random.experimental.stateless_fold_in)
    split = tf.random.experimental.stateless_split
    mixed = tries is not None and len(self.table) > 1
    spec = {}
    if mixed:
      spec['kind'] = tf.TensorSpec([], tf.int64)
    if n:
      spec['u'] = tf.TensorSpec([n, 8 + 3 * v], tf.float32)
    if n and self.free_form is not False:
      spec['step'] = tf.TensorSpec([n, v], tf.float32)
      spec['ff_dir'] = tf.TensorSpec([n, v, 2], tf.float32)
    if n and self.free_form is not True:
      spec['lama_dir'] = tf.TensorSpec([n, v, 2], tf.float32)
    if self.boxes:
      spec['u_box'] = tf.TensorSpec([self.boxes, 6], tf.float32)

    def one(seed):
      out = {}
      if tries is not None:
        kind_seed, seed = tf.unstack(split(fold_in(seed, tries), 2))
        if mixed:
          out['kind'] = tf.random.stateless_categorical(
              tf.math.log([self.weights]), 1, kind_seed)[0, 0]
      stroke_seed, box_seed = tf.unstack(split(seed, 2))
      if n:
        out['u'] = u = tf.random.stateless_uniform([n, 8 + 3 * v],
                                                   stroke_seed)
        u_head, u_angle = u[:, :6], u[:, 8:8 + v]
      if 'ff_dir' in spec:
        mean = math.sqrt(self.height**2 + self.width**2) / 8.
        out['step'] = tf.random.stateless_normal(
            [n, v], fold_in(stroke_seed, 1), mean, mean / 2.)
        # Angles in [mean - U * spread, mean + U' * spread] per stroke.
        angle = (_FF_ANGLE - _FF_SPREAD * u_head[:, 2:3] +
                 _FF_SPREAD * (u_head[:, 2:3] + u_head[:, 3:4]) * u_angle)
        out['ff_dir'] = tf.sin(angle[..., None] + [math.pi / 2., 0.])
      if 'lama_dir' in spec:
        out['lama_dir'] = tf.sin(_MAX_ANGLE * u_angle[..., None] +
                                 [0., math.pi / 2.])
      if self.boxes:
        out['u_box'] = tf.random.stateless_uniform([self.boxes, 6], box_seed)
      return out

    return tf.map_fn(one, seeds, fn_output_signature=spec)

  def _strokes(self, r, p, ff, m):
    """Capsules [m, n * v] of up to n strokes of up to v segments."""
    n, v = self.strokes, self.segments
    u_head, u_start, _, u_length, u_width = tf.split(
        r['u'], [6, 2, v, v, v], 2)
    active = ((np.arange(n)[:, None] <
               randint(u_head[:, :1, :1], p.strokes_lo, p.strokes_hi)) &
              (np.arange(v) <
               randint(u_head[:, :, 1:2], p.segments_lo, p.segments_hi)))
    # DeepFill flips the whole mask at random to undo the bias of its mean
    # angle; clipping is symmetric, so flipping start and steps is the same.
    flip = tf.where(u_head[:, :1, 4:6] < 0.5, -1., 1.)
    limit = tf.constant([self.width - 1., self.height - 1.])
    start = u_start * limit
    start = _pick(ff, lambda: tf.where(flip < 0., limit - start, start),
                  lambda: start)

    def ff_steps():
      # Even vertices use 2 pi - angle.
      sign = np.stack([np.ones(v), np.where(np.arange(v) % 2, 1., -1.)], 1)
      mean = math.sqrt(self.height**2 + self.width**2) / 8.
      step = tf.clip_by_value(r['step'], 0., 2. * mean)
      return (step[..., None] * r['ff_dir'] *
              (sign.astype(np.float32) * flip[:, :, None]))

    def lama_steps():
      # Angles from straight down; even strokes use 2 pi - angle.
      sign = np.ones([n, 1, 2], np.float32)
      sign[::2, :, 0] = -1.
      length = p.length_lo + (p.length_hi - p.length_lo) * u_length
      return length[..., None] * r['lama_dir'] * sign

    ff4 = ff if isinstance(ff, bool) else ff[..., None]
    # As in both references, vertices are clipped into the image, so strokes
    # slide along the border instead of leaving it.
    points = [start]
    for step in tf.unstack(_pick(ff4, ff_steps, lama_steps), axis=2):
      points.append(tf.minimum(tf.maximum(points[-1] + step, 0.), limit))
    a = tf.reshape(tf.stack(points[:-1], 2), [m, n * v, 2])
    b = tf.reshape(tf.stack(points[1:], 2), [m, n * v, 2])
    # DeepFill keeps one brush width per stroke, LaMa draws one per segment.
    u_width = _pick(ff, lambda: tf.broadcast_to(u_width[:, :, :1],
                                                tf.shape(u_width)),
                    lambda: u_width)
    radius = 0.5 * (p.width_lo + (p.width_hi - p.width_lo) * u_width)
    return a, b, tf.reshape(radius, [m, -1]), tf.reshape(active, [m, -1])

  def _boxes(self, r, p, m):
    """Up to n boxes per mask: capsules without caps along their mid-rows."""
    n = self.boxes
    u_head, u_side, u_corner = tf.split(r['u_box'], 3, 2)
    active = ((np.arange(n)[:, None] <
               randint(u_head[:, :1, :1], p.boxes_lo, p.boxes_hi)) &
              (u_head[:, :1, 1:2] < p.box_proba))
    sides = tf.floor(p.side_lo + (p.side_hi - p.side_lo) * u_side)  # (w, h).
    room = (tf.constant([self.width, self.height], tf.float32) -
            2. * p.margin - sides)
    corner = p.margin + randint(u_corner, 0., room)
    # Half-pixel margins keep pixel centres off the edges.
    a = corner + sides * [0., 0.5] - 0.5
    return (a, a + sides * [1., 0.], 0.5 * sides[..., 1],
            tf.reshape(active, [m, n]))

  def draw(self, seeds, tries=None):
    """float32 [m, H, W] masks for stateless seeds [m, 2] (see _draws)."""
    r = self._draws(seeds, tries)
    m = tf.shape(seeds)[0]
    if 'kind' in r:
      columns = tf.unstack(tf.gather(np.array(self.table, np.float32),
                                     r['kind']), axis=1)
      p = _Settings(*(tf.reshape(c, [-1, 1, 1]) for c in columns))
      ff = p.free_form > 0.5 if self.free_form is None else self.free_form
    else:
      p, ff = self.table[0], self.free_form
    parts, caps = [], []
    if self.strokes:
      parts.append(self._strokes(r, p, ff, m))
      caps.append(np.ones(self.strokes * self.segments, bool))
    if self.boxes:
      parts.append(self._boxes(r, p, m))
      caps.append(np.zeros(self.boxes, bool))
    a, b, radius, active = (tf.concat(x, 1) for x in zip(*parts))
    caps = np.concatenate(caps)
    # Mask i's rows sit below those of masks 0..i-1 in one tall image.
    offset = tf.cast(tf.range(m) * self.height, tf.float32)
    flat = lambda x: tf.reshape(x, [-1])
    rows, lo, hi = rasterize.capsule_spans(
        tf.reshape(a, [-1, 2]), tf.reshape(b, [-1, 2]), flat(radius),
        flat(active), flat(tf.broadcast_to(caps, tf.shape(active))),
        self.height, row_offset=flat(tf.broadcast_to(
            offset[:, None], tf.shape(active))))
    tall = rasterize.render(rows, lo, hi, m * self.height, self.width)
    return tf.reshape(tall, [m, self.height, self.width])


def exact_box(seed, height, width, min_holes, max_holes):
  """A box of w columns filled row by row with k holes, min <= k <= max."""
  u = tf.random.stateless_uniform([4], seed)
  k = randint(u[0], min_holes, max_holes)
  aspect = tf.exp((2. * u[1] - 1.) * math.log(2.))  # In [1/2, 2].
  # w >= k / height keeps the rows within the image.
  w = tf.clip_by_value(tf.round(tf.sqrt(k * aspect)),
                       tf.maximum(tf.math.ceil(k / height), 1.), width)
  h = tf.math.ceil(k / w)
  y = (tf.range(height, dtype=tf.float32)[:, None] -
       randint(u[2], 0., height - h))
  x = tf.range(width, dtype=tf.float32) - randint(u[3], 0., width - w)
  hole = (x >= 0.) & (x < w) & (y >= 0.) & (y * w + x < k)
  return tf.cast(hole, tf.float32)

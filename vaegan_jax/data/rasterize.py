"""Rasterising capsules (segments with round caps) and boxes into masks.

A capsule covers one x-interval of each row it touches; a prefix sum over a
difference array of the intervals gives the coverage, so the cost is
O(rows touched + H * W) in a few graph ops, not O(shapes * H * W).
"""
import numpy as np
import tensorflow as tf

_BIG = 1e9
_BLOCK = 16  # Prefix sums run within 16-pixel blocks, then across blocks.


def capsule_spans(a, b, radius, active, caps, height, row_offset=None):
  """Row spans of capsules, the points within `radius` of segments a-b.

  a, b: float32 [N, 2] ends (x, y), pixel (i, j) being at (j, i); radius:
  float32 [N]; active, caps: bool [N] (no caps: a rectangle).  Rows are
  clipped to [0, height) and then shifted by row_offset (float32 [N]), which
  stacks several masks into one tall image.  Returns float32 rows, lo, hi
  [P]: pixel (row, x) is covered iff lo <= x <= hi.
  """
  ax, ay, bx, by = tf.unstack(tf.concat([a, b], 1), axis=1)
  first = tf.maximum(tf.math.ceil(tf.minimum(ay, by) - radius), 0.)
  last = tf.minimum(tf.floor(tf.maximum(ay, by) + radius), height - 1.)
  count = tf.where(active, tf.maximum(last - first + 1., 0.), 0.)
  ends = tf.cumsum(count)
  pos = tf.range(ends[-1])
  dx, dy = bx - ax, by - ay
  length = tf.sqrt(dx * dx + dy * dy)
  ux = tf.where(length > 1e-6, dx / tf.maximum(length, 1e-6), 1.)
  uy = tf.where(length > 1e-6, dy / tf.maximum(length, 1e-6), 0.)
  # An axis-parallel segment makes one constraint below independent of x;
  # dividing by a tiny slope instead gives +-huge bounds with that effect.
  inv_x = 1. / tf.where(tf.abs(ux) < 1e-6, 1e-6, ux)
  inv_y = 1. / tf.where(tf.abs(uy) < 1e-6, 1e-6, uy)
  along = length * inv_x
  params = tf.stack([
      first - ends + count, ay, ax, dx, dy, tf.where(caps, radius**2, -1.),
      -uy * inv_x, ux * inv_y, tf.minimum(along, 0.), tf.maximum(along, 0.),
      tf.abs(radius * inv_y),
      tf.zeros_like(radius) if row_offset is None else row_offset], 1)
  # Only the rows a capsule touches are visited.  Unstacked, every op below
  # runs on [P] vectors; broadcasting over small inner axes is slow in Eigen.
  # Each row's capsule: a running count of the capsule starts passed, which
  # is cheaper than a searchsorted or a tf.repeat (whose cost grows with
  # capsules x longest capsule).
  nonempty = tf.where(count > 0.)[:, 0]
  starts = tf.math.unsorted_segment_sum(
      tf.ones_like(nonempty, tf.float32),
      tf.cast(tf.gather(ends - count, nonempty), tf.int32),
      tf.cast(ends[-1], tf.int32))
  capsule = tf.gather(nonempty, tf.cast(tf.cumsum(starts) - 1., tf.int32))
  (row0, ay, ax, dx, dy, r2, k_along, k_across, along_lo, along_hi,
   across, offset) = tf.unstack(tf.gather(params, capsule), axis=1)
  rows = row0 + pos
  t = rows - ay
  # With z = x - ax, the body is 0 <= z ux + t uy <= length and
  # |t ux - z uy| <= r.
  z, w = t * k_along, t * k_across
  lo = tf.maximum(z + along_lo, w - across)
  hi = tf.minimum(z + along_hi, w + across)
  body = lo <= hi
  lo, hi = tf.where(body, lo, _BIG), tf.where(body, hi, -_BIG)
  # A capsule is convex and the union of its body and two end discs, so its
  # row slice is the hull of theirs; a missed disc gets chord -BIG.
  def chord(dist):
    h2 = r2 - dist * dist
    return tf.where(h2 >= 0., tf.sqrt(tf.maximum(h2, 0.)), -_BIG)
  chord_a, chord_b = chord(t), chord(t - dy)
  lo = tf.minimum(tf.minimum(lo, -chord_a), dx - chord_b) + ax
  hi = tf.maximum(tf.maximum(hi, chord_a), dx + chord_b) + ax
  return rows + offset, lo, hi


def render(rows, lo, hi, height, width):
  """Rasterises row spans [P] into a float32 [height, width] 0/1 mask.

  `height` may be a scalar tensor; `width` is a Python int.
  """
  padded = -(-width // _BLOCK) * _BLOCK
  # Integer pixel indices: float32 ones are exact only below 2**24, which a
  # batch of 4097 masks of 64x64 already passes.
  dummy = tf.cast(height, tf.int64) * padded
  start = tf.math.ceil(tf.maximum(lo, 0.))
  stop = tf.floor(tf.minimum(hi, width - 1.)) + 1.
  valid = start < stop
  base = tf.cast(rows, tf.int64) * padded
  # +1 where a span starts and -1 where it stops; stops past the image are
  # dropped rather than wrapped into the next row.
  index = tf.concat(
      [tf.where(valid, base + tf.cast(start, tf.int64), dummy),
       tf.where(valid & (stop < width), base + tf.cast(stop, tf.int64),
                dummy)], 0)
  ones = tf.ones_like(lo)
  diff = tf.math.unsorted_segment_sum(
      tf.concat([ones, -ones], 0), index, dummy + 1)
  # Eigen's scan is slow on CPU; a matmul for prefix sums within blocks and
  # one adding the totals of earlier blocks are several times faster, and
  # exact for these small integers.
  blocks = padded // _BLOCK
  tri = np.triu(np.ones([_BLOCK, _BLOCK], np.float32))
  diff = diff[:-1]
  cover = tf.reshape(tf.matmul(tf.reshape(diff, [-1, _BLOCK]), tri),
                     [height, padded])
  if blocks > 1:
    totals = tf.reduce_sum(tf.reshape(diff, [height, blocks, _BLOCK]), 2)
    earlier = np.kron(np.triu(np.ones([blocks, blocks], np.float32), 1),
                      np.ones([1, _BLOCK], np.float32))
    cover += tf.matmul(totals, earlier)
  mask = tf.minimum(cover, 1.)
  return mask[:, :width] if padded != width else mask

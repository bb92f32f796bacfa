"""Random hole masks for inpainting, drawn with graph-mode TF ops.

Mask types (1 = hole, 0 = valid):
  free_form: DeepFill v2 brush strokes united with one box (Yu et al., 2019).
  thin, medium, thick, box: LaMa strokes and boxes (Suvorov et al., 2022).
The shapes are drawn by mask_shapes.py and rasterised by rasterize.py.

Masks come from stateless seeds, so a (seed, index) pair always gives the same
mask whatever the threading, sharding or batching.  Masks are drawn many at a
time (masks_for_indices): tf.data map functions pay a fixed cost per op, and
a batch shares the ops.
"""
import fractions
import math

import numpy as np
import tensorflow as tf

from vaegan_jax.data import mask_shapes

MASK_TYPES = tuple(mask_shapes.SPECS)
MAX_TRIES = 10  # Draws per mask before falling back to an exact-ratio box.

_MAX_PIXELS = 2**24  # Pixel indices are exact in float32 up to here.
_MAX_BATCH_PIXELS = 2**19  # mask_dataset draws up to this many pixels at once.


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


@tf.autograph.experimental.do_not_convert
def _masks_for_seeds(seeds, height, width, masks_config):
  """float32 [m, H, W, 1] masks of stateless seeds [m, 2] (generate_mask)."""
  height, width = _check_size(height, width)
  kinds, weights, min_holes, max_holes = _check_config(
      masks_config, height, width)
  plan = mask_shapes.ShapeTable(kinds, weights, height, width)
  masks = plan.draw(seeds, tf.constant(0))
  if min_holes == 0 and max_holes == height * width:
    return masks[..., None]

  def in_range(masks):
    count = tf.reduce_sum(masks, [1, 2])
    return (count >= min_holes) & (count <= max_holes)

  fold_in = tf.random.experimental.stateless_fold_in
  shape = tf.TensorShape([None, height, width])

  def retries():
    # Only the masks still out of range draw again.  The accepted ones are
    # collected and written into the batch once: a scatter copies it whole.
    def retry(i, done, found, where):
      pending = tf.where(~done)[:, 0]
      again = plan.draw(tf.gather(seeds, pending), i)
      good = in_range(again)
      accepted = tf.boolean_mask(pending, good)
      done = tf.tensor_scatter_nd_update(done, accepted[:, None],
                                         tf.fill(tf.shape(accepted), True))
      return (i + 1, done, found.write(i, tf.boolean_mask(again, good)),
              where.write(i, accepted))

    empty = tf.zeros([0, height, width])
    _, done, found, where = tf.while_loop(
        lambda i, done, *_: (i < MAX_TRIES) & ~tf.reduce_all(done), retry,
        (tf.constant(1), done0,
         tf.TensorArray(tf.float32, 1, dynamic_size=True, infer_shape=False,
                        element_shape=shape).write(0, empty),
         tf.TensorArray(tf.int64, 1, dynamic_size=True, infer_shape=False,
                        element_shape=[None]).write(
                            0, tf.zeros([0], tf.int64))))
    pending = tf.where(~done)[:, 0]
    boxes = tf.map_fn(
        lambda seed: mask_shapes.exact_box(fold_in(seed, MAX_TRIES), height,
                                           width, min_holes, max_holes),
        tf.gather(seeds, pending),
        fn_output_signature=tf.TensorSpec([height, width], tf.float32))
    return tf.tensor_scatter_nd_update(
        masks, tf.concat([where.concat(), pending], 0)[:, None],
        tf.concat([found.concat(), boxes], 0))

  done0 = in_range(masks)
  masks = tf.cond(tf.reduce_all(done0), lambda: masks, retries)
  return masks[..., None]


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
  seeds = tf.convert_to_tensor(seed)[None]
  return _masks_for_seeds(seeds, height, width, masks_config)[0]


@tf.autograph.experimental.do_not_convert
def masks_for_indices(seed, indices, height, width, masks_config):
  """float32 [m, height, width, 1]: the masks of examples `indices` ([m]).

  Row i equals mask_for_index(seed, indices[i], ...).
  """
  seed = int(seed)
  base = tf.constant([seed >> 32, seed & 0xFFFFFFFF], tf.int64)
  indices = tf.cast(tf.reshape(indices, [-1]), tf.int64)
  # fold_in(base, i) is [f(base), i]; f(base) is the same for every i.
  first = tf.random.experimental.stateless_fold_in(
      base, tf.constant(0, tf.int64))[0]
  seeds = tf.stack([tf.fill(tf.shape(indices), first), indices], 1)
  return _masks_for_seeds(seeds, height, width, masks_config)


@tf.autograph.experimental.do_not_convert
def mask_for_index(seed, index, height, width, masks_config):
  """Mask of example `index` (int tensor) under Python int `seed`.

  The float32 [height, width, 1] result equals element `index` of
  mask_dataset(seed, height, width, masks_config).
  """
  return masks_for_indices(seed, index, height, width, masks_config)[0]


def mask_dataset(seed, height, width, masks_config, start_index=0):
  """Endless dataset of float32 [height, width, 1] masks.

  Element i is mask_for_index(seed, start_index + i, ...), so a resumed
  pipeline reproduces the same masks.  The dataset sets
  max_intra_op_parallelism = 1 (ops are small; parallel calls scale better),
  which merges into pipelines built on it.
  """
  height, width = _check_size(height, width)
  _check_config(masks_config, height, width)
  batch = max(1, min(32, _MAX_BATCH_PIXELS // (height * width)))
  fn = lambda i: masks_for_indices(seed, i, height, width, masks_config)
  options = tf.data.Options()
  options.threading.max_intra_op_parallelism = 1
  # Dataset.counter runs a scan per element; range is cheaper.
  return tf.data.Dataset.range(int(start_index), 2**63 - 1).batch(batch).map(
      tf.autograph.experimental.do_not_convert(fn),
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True).unbatch().with_options(options)


def fixed_masks(seed, num, height, width, masks_config):
  """float32 [num, height, width, 1] masks, identical on every run."""
  if num <= 0:
    return np.zeros([0, height, width, 1], np.float32)
  dataset = mask_dataset(seed, height, width, masks_config).take(num)
  return next(dataset.batch(num).as_numpy_iterator())


def hole_ratio(mask):
  """Fraction of hole pixels of [..., H, W, 1] masks, float64 in [0, 1]."""
  return np.mean(np.asarray(mask, np.float64), axis=(-3, -2, -1))


def object_mask(seed: int, index: int, height: int, width: int,
                min_ratio: float = 0.05, max_ratio: float = 0.15,
                max_ellipses: int = 4) -> np.ndarray:
  """An object-like hole for whole-photo evaluation (NumPy, not tf.data).

  The union of 1..max_ellipses overlapping ellipses around a random centre,
  scaled until it covers a hole ratio drawn from U[min_ratio, max_ratio].
  The same (seed, index, size) always gives the same mask.

  Returns:
    float32 [height, width, 1], 1 = hole.
  """
  height, width = _check_size(height, width)
  rng = np.random.default_rng([seed, index])
  target = rng.uniform(min_ratio, max_ratio)
  k = int(rng.integers(1, max_ellipses + 1))
  # Unit-area ellipses: centre offset (in radii), axes, rotation.
  cy, cx = rng.uniform(0.15, 0.85, 2) * (height, width)
  offsets = np.concatenate([[[0.0, 0.0]],
                            rng.uniform(-1.2, 1.2, (k - 1, 2))])
  aspects = rng.uniform(0.35, 1.0, k)
  angles = rng.uniform(0, np.pi, k)
  weights = rng.uniform(0.5, 1.5, k)
  yy, xx = np.mgrid[:height, :width] + 0.5
  scale = np.sqrt(target * height * width / (np.pi * k))
  for _ in range(30):
    hole = np.zeros((height, width), bool)
    for off, aspect, angle, weight in zip(offsets, aspects, angles, weights):
      ry = scale * np.sqrt(weight / aspect)
      rx = scale * np.sqrt(weight * aspect)
      dy, dx = yy - (cy + off[0] * ry), xx - (cx + off[1] * rx)
      u = dy * np.cos(angle) + dx * np.sin(angle)
      v = -dy * np.sin(angle) + dx * np.cos(angle)
      hole |= (u / ry) ** 2 + (v / rx) ** 2 <= 1.0
    ratio = hole.mean()
    if min_ratio <= ratio <= max_ratio:
      break
    scale *= np.sqrt(target / max(ratio, 1.0 / (height * width)))
  return hole[..., None].astype(np.float32)

"""Tests for vaegan_jax/data/masks.py."""
import types

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from vaegan_jax.data import masks
from vaegan_jax.data import rasterize


def make_config(min_ratio=0.05, max_ratio=0.6, **weights):
  """Mask config; weights default to the project's default mixture."""
  config = ml_collections.ConfigDict(dict(
      free_form=0.4, thin=0.1, medium=0.2, thick=0.2, box=0.1,
      min_ratio=min_ratio, max_ratio=max_ratio))
  config.update(weights)
  return config


def only(kind, min_ratio=0., max_ratio=1.):
  return make_config(min_ratio, max_ratio,
                     **{k: float(k == kind) for k in masks.MASK_TYPES})


def hole_counts(batch):
  return batch.reshape(len(batch), -1).sum(axis=1)


def test_same_seed_and_index_give_same_mask():
  config = make_config()
  first = masks.mask_for_index(3, 7, 32, 32, config).numpy()
  again = masks.mask_for_index(3, 7, 32, 32, config).numpy()
  other_index = masks.mask_for_index(3, 8, 32, 32, config).numpy()
  other_seed = masks.mask_for_index(4, 7, 32, 32, config).numpy()
  assert first.shape == (32, 32, 1) and first.dtype == np.float32
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other_index)
  assert not np.array_equal(first, other_seed)


def test_dataset_element_matches_mask_for_index():
  config = make_config()
  dataset = masks.mask_dataset(11, 32, 48, config, start_index=5)
  got = next(dataset.take(4).batch(4).as_numpy_iterator())
  assert got.shape == (4, 32, 48, 1)
  mask_for_index = tf.function(
      lambda i: masks.mask_for_index(11, i, 32, 48, config))
  for i in range(4):
    want = mask_for_index(tf.constant(5 + i)).numpy()
    np.testing.assert_array_equal(got[i], want)


@pytest.mark.heavy
def test_fixed_masks_repeat_and_differ():
  config = make_config()
  first = masks.fixed_masks(0, 6, 32, 32, config)
  assert first.shape == (6, 32, 32, 1) and first.dtype == np.float32
  np.testing.assert_array_equal(first, masks.fixed_masks(0, 6, 32, 32, config))
  assert len({m.tobytes() for m in first}) == 6
  assert masks.fixed_masks(0, 0, 32, 32, config).shape == (0, 32, 32, 1)


@pytest.mark.parametrize('min_ratio,max_ratio,size', [
    (0.05, 0.6, 32), (0.3, 0.32, 32), (0.5, 0.5, 32), (0., 0.01, 32),
    (0.8, 0.95, 32), (0.2, 0.21, 64)])
@pytest.mark.heavy
def test_hole_ratio_always_in_range(min_ratio, max_ratio, size):
  batch = masks.fixed_masks(1, 50, size, size,
                            make_config(min_ratio, max_ratio))
  ratios = hole_counts(batch) / (size * size)
  assert np.all(ratios >= min_ratio) and np.all(ratios <= max_ratio), ratios
  assert np.all((batch == 0) | (batch == 1))
  assert masks.hole_ratio(batch).shape == (50,)


def test_ratio_fallback_is_exact_and_varied():
  # Brush masks almost never land in so narrow a range, so most masks come
  # from the fallback; they should still differ from one another.
  batch = masks.fixed_masks(2, 20, 32, 32, only('thin', 0.75, 0.75))
  np.testing.assert_array_equal(hole_counts(batch), np.full(20, 768.))
  assert len({m.tobytes() for m in batch}) > 10


@pytest.mark.parametrize('size', [16, 64, 256])
@pytest.mark.parametrize('kind', masks.MASK_TYPES)
@pytest.mark.heavy
def test_every_type_non_empty_and_binary(kind, size):
  draw = tf.function(
      lambda seed: masks.generate_mask(seed, size, size + 8, only(kind))[..., 0])
  for i in range(6 if size == 256 else 20):
    mask = draw(tf.constant([i, 42], tf.int64)).numpy()
    assert mask.shape == (size, size + 8) and mask.dtype == np.float32
    assert np.all((mask == 0) | (mask == 1))
    assert 0 < mask.sum() < mask.size, (kind, size, i)


def corner_windows(mask):
  """Number of 2x2 windows holding 1 or 3 hole pixels."""
  m = mask[..., 0]
  count = m[:-1, :-1] + m[1:, :-1] + m[:-1, 1:] + m[1:, 1:]
  return int(np.sum((count == 1) | (count == 3)))


def test_zero_weight_types_are_never_drawn():
  # Unions of at most 4 axis-aligned boxes have few corners; any stroke
  # (round caps, slanted edges) adds many.
  boxes = masks.fixed_masks(5, 30, 64, 64, only('box'))
  strokes = masks.fixed_masks(5, 30, 64, 64, only('thin'))
  assert max(corner_windows(m) for m in boxes) <= 48
  assert min(corner_windows(m) for m in strokes) > 48


def test_brush_rasterisation_matches_distance_field():
  rng = np.random.default_rng(0)
  height, width, n = 40, 56, 8
  yy, xx = np.mgrid[:height, :width]
  pixels = np.stack([xx, yy], -1).astype(np.float64)
  for trial in range(6):
    a = rng.uniform(-5., [width + 5., height + 5.], [n, 2]).astype(np.float32)
    b = a + rng.normal(0., 10., [n, 2]).astype(np.float32)
    if trial == 1:
      b[:, 0] = a[:, 0]  # Vertical.
    elif trial == 2:
      b[:, 1] = a[:, 1]  # Horizontal.
    elif trial == 3:
      b = a.copy()  # Discs.
    radius = rng.uniform(0.5, 6., [n]).astype(np.float32)
    active = rng.uniform(size=n) < 0.8
    caps = rng.uniform(size=n) < 0.5
    spans = rasterize.capsule_spans(a, b, radius, active, caps, height)
    got = rasterize.render(*spans, height, width).numpy()
    d = (b - a).astype(np.float64)[:, None, None]
    rel = pixels[None] - a[:, None, None]
    length2 = (d * d).sum(-1)
    t = (rel * d).sum(-1) / np.maximum(length2, 1e-12)
    dist = np.linalg.norm(rel - np.clip(t, 0., 1.)[..., None] * d, axis=-1)
    inside = dist <= radius[:, None, None]
    # Capsules without caps keep only the points beside the segment.
    inside &= caps[:, None, None] | ((t >= 0.) & (t <= 1.) & (length2 > 0.))
    want = (inside & active[:, None, None]).any(0)
    np.testing.assert_array_equal(got, want.astype(np.float32), str(trial))


def test_render_is_exact_past_float32_pixel_indices():
  # Past 2**24 pixels float32 indices are no longer exact: a batch of 4097
  # masks of 64 x 64 once drew pixels of -1, -2 and -3.
  width, height = 16, 2 ** 20 + 8
  far = 2 ** 20 + 5  # Its pixels start at 2**24 + 80.
  got = rasterize.render(np.array([3., far], np.float32),
                         np.array([2., 7.], np.float32),
                         np.array([5., 7.5], np.float32), height, width)
  got = got.numpy()
  want = np.zeros(width, np.float32)
  np.testing.assert_array_equal(got[3], np.where(
      (np.arange(width) >= 2) & (np.arange(width) <= 5), 1., 0.))
  want[7] = 1.
  np.testing.assert_array_equal(got[far], want)
  assert got.sum() == 5.


def test_accepts_int32_seeds_and_plain_configs():
  config = types.SimpleNamespace(free_form=1., thin=0., medium=0., thick=0.,
                                 box=1., min_ratio=0.1, max_ratio=0.5)
  mask = masks.generate_mask(tf.constant([1, 2], tf.int32), 24, 40, config)
  assert mask.shape == (24, 40, 1)
  assert 0.1 <= float(np.mean(mask)) <= 0.5


def test_graph_has_no_python_ops():
  config = make_config()
  fn = tf.function(lambda i: masks.mask_for_index(0, i, 32, 32, config))
  graph = fn.get_concrete_function(tf.TensorSpec([], tf.int64)).graph
  graph_def = graph.as_graph_def()
  ops = {node.op for node in graph_def.node}
  for function in graph_def.library.function:
    ops |= {node.op for node in function.node_def}
  assert 'While' in ops or 'StatelessWhile' in ops  # Bodies were searched.
  assert not ops & {'PyFunc', 'PyFuncStateless', 'EagerPyFunc'}

  # The dataset also builds and runs inside a tf.function.
  got = tf.function(lambda: masks.mask_dataset(0, 32, 32, config).take(2)
                    .batch(2).get_single_element())()
  np.testing.assert_array_equal(got[1].numpy(), fn(tf.constant(1, tf.int64)))


@pytest.mark.parametrize('changes,message', [
    (dict(thin=-0.1), 'thin'),
    (dict(box=float('nan')), 'box'),
    (dict(free_form=0., thin=0., medium=0., thick=0., box=0.), 'all'),
    (dict(min_ratio=0.7, max_ratio=0.6), 'min_ratio'),
    (dict(min_ratio=-0.1), 'min_ratio'),
    (dict(max_ratio=1.5), 'max_ratio'),
    (dict(min_ratio=0.3, max_ratio=0.3), 'widen'),  # 0.3 * 256 = 76.8.
])
def test_bad_configs_raise(changes, message):
  config = make_config()
  config.update(changes)
  with pytest.raises(ValueError, match=message):
    masks.generate_mask(tf.constant([0, 0]), 16, 16, config)
  with pytest.raises(ValueError, match=message):
    masks.mask_dataset(0, 16, 16, config)


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match='no weight'):
    masks.generate_mask(tf.constant([0, 0]), 16, 16,
                        types.SimpleNamespace(free_form=1., min_ratio=0.,
                                              max_ratio=1.))
  with pytest.raises(ValueError, match='positive'):
    masks.generate_mask(tf.constant([0, 0]), 0, 16, only('box'))


def test_batched_masks_match_single_masks():
  # Whatever batch a mask is drawn in (and at whatever position), it is the
  # same mask; retries and the exact-box fallback are exercised by a narrow
  # ratio range.
  for config in (make_config(), make_config(0.3, 0.32), only('thick')):
    batch = masks.masks_for_indices(5, [3, 9, 4, 100], 24, 40, config).numpy()
    for row, index in zip(batch, [3, 9, 4, 100]):
      np.testing.assert_array_equal(
          row, masks.mask_for_index(5, index, 24, 40, config).numpy())


def test_vectorised_seeds_match_fold_in():
  # masks_for_indices relies on fold_in(base, i) == [f(base), i].
  base = tf.constant([0, 5], tf.int64)
  for i in (0, 7, 2**40):
    got = tf.random.experimental.stateless_fold_in(
        base, tf.constant(i, tf.int64)).numpy()
    want0 = tf.random.experimental.stateless_fold_in(
        base, tf.constant(0, tf.int64)).numpy()[0]
    assert got.tolist() == [want0, i]


def test_object_masks_cover_5_to_15_percent_and_repeat():
  for i, (h, w) in enumerate([(480, 640), (512, 341), (97, 203)]):
    m = masks.object_mask(1234, i, h, w)
    assert m.shape == (h, w, 1) and m.dtype == np.float32
    assert 0.05 <= m.mean() <= 0.15, m.mean()
    np.testing.assert_array_equal(m, masks.object_mask(1234, i, h, w))
    assert not np.array_equal(m, masks.object_mask(1234, i + 1, h, w))
    # One connected object-like blob or a few: not scattered speckle.
    from scipy import ndimage  # pylint: disable=g-import-not-at-top
    assert ndimage.label(m[..., 0])[1] <= 4

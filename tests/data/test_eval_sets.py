"""Fixed evaluation sets: square views and whole photos, fixed masks."""
import numpy as np
import tensorflow as tf

from vaegan_jax.configs import test as test_config
from vaegan_jax.data import eval_sets
from vaegan_jax.data import input_pipeline
from vaegan_jax.data import masks


def _config():
  """The test config with box masks only (traced in ~0.5 s)."""
  config = test_config.get_config()
  config.masks.update(free_form=0.0, thin=0.0, medium=0.0, thick=0.0, box=1.0)
  return config


def test_eval_data_fixed_and_heldout_only():
  config = _config()
  a = eval_sets.load_eval_data(config, num_masks_per_image=2)
  config.seed = 7  # The eval set must not depend on the training seed.
  b = eval_sets.load_eval_data(config, num_masks_per_image=2)
  heldout = input_pipeline.embedded_names('heldout')
  n = len(heldout) * len(eval_sets.EVAL_VIEWS) * 2
  assert a['image'].shape == (n, 16, 16, 3) and a['mask'].shape == (n, 16,
                                                                     16, 1)
  assert a['image'].dtype == a['mask'].dtype == np.float32
  assert len(a['name']) == len(set(a['name'])) == n
  assert {name.split('/')[0] for name in a['name']} == set(heldout)
  assert a['name'] == b['name']
  np.testing.assert_array_equal(a['image'], b['image'])
  np.testing.assert_array_equal(a['mask'], b['mask'])
  assert 0.0 <= a['image'].min() and a['image'].max() <= 1.0
  # The mask set is the outer axis: each view appears once per mask set.
  half = n // 2
  np.testing.assert_array_equal(a['image'][:half], a['image'][half:])
  assert not np.array_equal(a['mask'][:half], a['mask'][half:])
  np.testing.assert_array_equal(a['mask'][5], masks.mask_for_index(
      eval_sets.EVAL_MASK_SEED, 5, 16, 16, config.masks).numpy())
  full = input_pipeline.load_embedded_images('heldout')[0]
  h, w = full.shape[:2]
  s = min(h, w)
  half, quarter = round(0.5 * s), round(0.25 * s)
  first = heldout[0]
  for name, crop in [
      (f'{first}/1.0_center/m0',
       full[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]),
      (f'{first}/0.5_top_right/m0', full[:half, w - half:]),
      (f'{first}/0.25_bottom_left/m1', full[h - quarter:, :quarter])]:
    expected = tf.image.resize(crop / 255.0, [16, 16], 'area')
    np.testing.assert_allclose(a['image'][a['name'].index(name)],
                               expected.numpy(), atol=1e-5)


def test_eval_photos_whole_with_object_holes():
  config = _config()
  a = eval_sets.load_eval_photos(config)
  heldout = input_pipeline.load_embedded_images('heldout')
  assert a['name'] == list(input_pipeline.embedded_names('heldout'))
  assert len(a['image']) == len(a['mask']) == len(heldout) > 0
  for image, mask, full in zip(a['image'], a['mask'], heldout, strict=True):
    assert image.shape == full.shape and mask.shape == full.shape[:2] + (1,)
    np.testing.assert_allclose(image, full / 255.0, atol=1e-6)
    assert 0.05 <= mask.mean() <= 0.15
  small = eval_sets.load_eval_photos(config, max_side=100)
  assert len(small['image']) == len(heldout)
  assert all(max(x.shape[:2]) == 100 for x in small['image'])

"""Tests for vaegan_jax.data.input_pipeline."""
import logging
import os
import re
import socket

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from vaegan_jax.configs import test as test_config
from vaegan_jax.data import eval_sets
from vaegan_jax.data import image_folder
from vaegan_jax.data import input_pipeline
from vaegan_jax.data import masks


def _config(**data):
  """The test config with box masks only: traced in ~0.5 s instead of ~4 s."""
  config = test_config.get_config()
  config.data.update(data)
  config.masks.update(free_form=0.0, thin=0.0, medium=0.0, thick=0.0, box=1.0)
  return config


def _take(it, n):
  return [next(it) for _ in range(n)]


def _global(batch):
  """[D, B, ...] -> [D * B, ...]."""
  return {k: v.reshape((-1,) + v.shape[2:]) for k, v in batch.items()}


@pytest.fixture(scope='module')
def embedded_batches():
  """First 3 global batches of the test config, one device, from step 0."""
  it = input_pipeline.create_train_iterator(_config(), num_local_devices=1)
  return [_global(b) for b in _take(it, 3)]


def _check_batch(batch, devices, per_device):
  assert batch['image'].shape == (devices, per_device, 16, 16, 3)
  assert batch['mask'].shape == (devices, per_device, 16, 16, 1)
  assert batch['image'].dtype == batch['mask'].dtype == np.float32
  assert 0.0 <= batch['image'].min() and batch['image'].max() <= 1.0
  assert set(np.unique(batch['mask'])) <= {0.0, 1.0}
  assert 0.0 < batch['mask'].mean() < 1.0


def test_one_device_batches(embedded_batches):
  for batch in embedded_batches:
    _check_batch({k: v[None] for k, v in batch.items()}, 1, 8)
    images = batch['image'].reshape(8, -1)
    assert len({x.tobytes() for x in images}) == 8


def test_same_config_same_batches_and_exact_resume(embedded_batches,
                                                   monkeypatch):
  requested = []  # Held-out images must never reach training.
  original = input_pipeline._embedded
  monkeypatch.setattr(input_pipeline, '_embedded',
                      lambda split: requested.append(split) or original(split))
  config = _config()
  again = _global(next(input_pipeline.create_train_iterator(
      config, num_local_devices=1)))
  resumed = _global(next(input_pipeline.create_train_iterator(
      config, num_local_devices=1, start_step=2)))
  assert requested == ['train', 'train']
  for k in ('image', 'mask'):
    np.testing.assert_array_equal(again[k], embedded_batches[0][k])
    np.testing.assert_array_equal(resumed[k], embedded_batches[2][k])
    assert not np.array_equal(embedded_batches[0][k], embedded_batches[1][k])


def test_sharding_over_devices_and_processes(embedded_batches):
  config = _config()
  first = embedded_batches[0]
  eight_devices = next(input_pipeline.create_train_iterator(
      config, num_local_devices=8))
  second_process = next(input_pipeline.create_train_iterator(
      config, num_local_devices=2, process_index=1, process_count=2))
  _check_batch(eight_devices, 8, 1)
  _check_batch(second_process, 2, 2)
  for k in ('image', 'mask'):
    np.testing.assert_array_equal(_global(eight_devices)[k], first[k])
    np.testing.assert_array_equal(_global(second_process)[k], first[k][4:])


def test_masks_keyed_by_seed_and_global_index(embedded_batches):
  config = _config()
  for step, position in [(0, 0), (2, 5)]:
    expected = masks.mask_for_index(config.seed, step * config.batch_size
                                    + position, 16, 16, config.masks)
    np.testing.assert_array_equal(embedded_batches[step]['mask'][position],
                                  expected.numpy())


def test_default_mask_mixture():
  config = test_config.get_config()
  batches = _take(input_pipeline.create_train_iterator(
      config, num_local_devices=2, start_step=3), 2)
  for batch in batches:
    _check_batch(batch, 2, 4)
  expected = masks.mask_for_index(config.seed, 4 * 8 + 6, 16, 16,
                                  config.masks)
  np.testing.assert_array_equal(batches[1]['mask'][1, 2], expected.numpy())


def test_crop_boxes_stay_inside_and_at_least_output_size():
  config = _config()  # image_size 16, crop scale [0.15, 1].
  for h, w in [(300, 451), (451, 300), (40, 60), (8, 8)]:
    short = min(h, w)
    for g in range(40):
      u = input_pipeline._uniforms(config.seed, g)
      y0, x0, side = (int(v) for v in input_pipeline._crop_box(u, h, w,
                                                               config))
      assert min(short, max(16, round(0.15 * short))) <= side <= short
      assert 0 <= y0 <= h - side and 0 <= x0 <= w - side


@pytest.mark.heavy
def test_embedded_corpus_real_photos_heldout_apart():
  manifest = input_pipeline.embedded_manifest()
  train = input_pipeline.load_embedded_images('train')
  heldout = input_pipeline.load_embedded_images('heldout')
  assert len(train) + len(heldout) == len(manifest) >= 100
  assert len(heldout) >= 12 and len(train) >= 5 * len(heldout)
  assert not set(input_pipeline.embedded_names('train')) & set(
      input_pipeline.embedded_names('heldout'))
  for entry in manifest:
    assert entry['license'] and entry['source'] and entry['attribution']
    # Reserved for independent evaluation: never trained or tuned on.
    for reserved in ('scikit-learn', 'sklearn', 'matplotlib',
                     'mate-backgrounds'):
      assert reserved not in entry['source'], entry
  assert len({e['category'] for e in manifest}) >= 6
  for img in train + heldout:
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert 192 <= min(img.shape[:2]) <= 512
  small = lambda x: np.asarray(Image.fromarray(x).resize((16, 16)), float)
  for h in heldout:  # no held-out photo is a copy of a training photo
    assert min(np.abs(small(t) - small(h)).mean() for t in train) > 2.0
  licences = os.path.join(input_pipeline.PHOTOS_DIR, 'LICENSES.md')
  assert os.path.getsize(licences) > 500


def _write_folder(root):
  """8 decodable images of many modes and sizes, 5 broken ones, a .txt."""
  rng = np.random.default_rng(0)
  rgb = Image.fromarray(rng.integers(0, 256, (40, 60, 3), np.uint8))
  (root / 'sub' / 'deeper').mkdir(parents=True)
  rgb.save(root / 'rgb.jpg', quality=90)
  rgb.convert('L').save(root / 'gray.png')
  rgb.convert('RGBA').save(root / 'rgba.PNG')
  rgb.convert('P').save(root / 'sub' / 'palette.png')
  rgb.save(root / 'sub' / 'anim.gif')
  rgb.save(root / 'sub' / 'photo.webp')
  Image.fromarray(rng.integers(0, 256, (8, 8, 3), np.uint8)).save(
      root / 'sub' / 'deeper' / 'small.png')
  wide = np.linspace(0, 65535, 30 * 50).astype(np.uint16).reshape(30, 50)
  Image.fromarray(wide).save(root / 'deep16.png')  # mode I;16.
  (root / 'corrupt.png').write_bytes(rng.integers(0, 256, 500, np.uint8)
                                     .tobytes())
  (root / 'notes.jpg').write_text('not an image')
  (root / 'empty.jpeg').write_bytes(b'')
  data = (root / 'rgb.jpg').read_bytes()
  (root / 'truncated.jpg').write_bytes(data[:len(data) // 2])
  rgb.convert('P').save(root / 'palette.bmp')  # TF misreads 8-bit BMPs.
  (root / 'readme.txt').write_text('labels')
  return wide


def test_folder_source(tmp_path, caplog):
  wide = _write_folder(tmp_path)
  usable, skipped, ignored = image_folder.list_folder_images(str(tmp_path))
  assert len(usable) == 8 and len(skipped) == 5 and ignored == 1
  assert {p.rsplit('/', 1)[1] for p, _ in skipped} == {
      'corrupt.png', 'notes.jpg', 'empty.jpeg', 'truncated.jpg', 'palette.bmp'}
  decoded = image_folder.decode(
      tf.io.read_file(str(tmp_path / 'deep16.png'))).numpy()
  np.testing.assert_allclose(decoded[..., 1], wide / 65535, atol=1e-6)

  config = _config(source='folder', folder=str(tmp_path))
  caplog.set_level(logging.INFO)
  it = input_pipeline.create_train_iterator(config, num_local_devices=2)
  assert '8 usable, 5 skipped' in caplog.text
  first, second = _take(it, 2)
  for batch in (first, second):
    assert batch['image'].shape == (2, 4, 16, 16, 3)
    assert batch['mask'].shape == (2, 4, 16, 16, 1)
    assert 0.0 <= batch['image'].min() and batch['image'].max() <= 1.0
  assert not np.array_equal(first['image'], second['image'])
  resumed = next(input_pipeline.create_train_iterator(
      config, num_local_devices=2, start_step=1))
  np.testing.assert_array_equal(resumed['image'], second['image'])

  held_out = eval_sets.load_eval_data(config, num_masks_per_image=2)
  assert held_out['image'].shape == (16, 16, 16, 3)
  assert sorted(held_out['name'][:8]) == sorted(
      p[len(str(tmp_path)) + 1:] + '/m0' for p in usable)


def test_folder_shards_are_disjoint_across_processes(tmp_path):
  levels = (20, 70, 120, 170, 220, 250)  # one grey level per file
  for i, level in enumerate(levels):
    Image.fromarray(np.full((24, 24, 3), level, np.uint8)).save(
        tmp_path / f'{i}.png')
  config = _config(source='folder', folder=str(tmp_path), grayscale_prob=0.0,
                   channel_permute_prob=0.0)
  seen = []
  for process in range(2):
    it = input_pipeline.create_train_iterator(
        config, num_local_devices=2, process_index=process, process_count=2)
    images = np.concatenate([b['image'].reshape(-1, 16 * 16 * 3)
                             for b in _take(it, 3)])
    seen.append({int(round(x * 255)) for x in images.mean(axis=1)})
  # Sorted files 0, 2, 4 go to process 0; 1, 3, 5 to process 1.
  assert seen[0] == set(levels[0::2]) and seen[1] == set(levels[1::2])


def test_a_folder_sets_images_aside_for_evaluation(tmp_path):
  levels = list(range(10, 250, 12))  # 20 files, one grey level each
  for i, level in enumerate(levels):
    Image.fromarray(np.full((24, 24, 3), level, np.uint8)).save(
        tmp_path / f'{i:02d}.png')
  config = _config(source='folder', folder=str(tmp_path), grayscale_prob=0.0,
                   channel_permute_prob=0.0)
  config.data.folder_heldout = 4
  it = input_pipeline.create_train_iterator(config, num_local_devices=2)
  images = np.concatenate([b['image'].reshape(-1, 16 * 16 * 3)
                           for b in _take(it, 12)])
  seen = {int(round(x * 255)) for x in images.mean(axis=1)}
  assert seen == set(levels[4:])  # 96 crops: every training file, no other
  held_out = eval_sets.load_eval_data(config, num_masks_per_image=1)
  assert held_out['name'] == [f'{i:02d}.png/m0' for i in range(4)]
  # A folder with at most twice as many images keeps them all for training.
  assert image_folder.split_heldout(list('abcdefgh'), 4) == (
      list('abcdefgh'), [])
  assert image_folder.split_heldout(list('abcdefghi'), 4) == (
      list('efghi'), list('abcd'))
  assert image_folder.split_heldout(list('abc'), 0) == (list('abc'), [])


def test_folder_without_usable_images(tmp_path):
  with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
    input_pipeline.create_train_iterator(
        _config(source='folder', folder=str(tmp_path)), num_local_devices=1)
  (tmp_path / 'a.txt').write_text('x')
  (tmp_path / 'b.png').write_bytes(b'')
  with pytest.raises(ValueError, match='No usable images'):
    input_pipeline.create_train_iterator(
        _config(source='folder', folder=str(tmp_path)), num_local_devices=1)


@pytest.fixture
def no_network(monkeypatch):
  def refuse(*args, **kwargs):
    raise AssertionError(f'network access attempted: {args}')
  monkeypatch.setattr(socket.socket, 'connect', refuse)


def test_tfds_unprepared_dataset_gives_clear_error(tmp_path, monkeypatch,
                                                   no_network):
  def download(self, *args, **kwargs):
    raise OSError('offline')
  monkeypatch.setattr(tfds.core.DatasetBuilder, 'download_and_prepare',
                      download)
  config = _config(source='tfds', tfds_name='mnist', data_dir=str(tmp_path))
  for fn in (
      lambda: input_pipeline.create_train_iterator(config,
                                                   num_local_devices=1),
      lambda: eval_sets.load_eval_data(config)):
    with pytest.raises(RuntimeError) as e:
      fn()
    for part in ('mnist', 'not prepared', str(tmp_path),
                 f'tfds build mnist --data_dir={tmp_path}', 'tfds_download'):
      assert part in str(e.value)
    assert 'offline' not in str(e.value)
  config.data.tfds_download = True
  with pytest.raises(RuntimeError, match='tfds build mnist.*offline'):
    input_pipeline.create_train_iterator(config, num_local_devices=1)


class VaeganTestImages(tfds.core.GeneratorBasedBuilder):
  """Tiny grayscale images of varying sizes; prepared without a download."""
  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features
                                 .FeaturesDict({'image': tfds.features.Image(
                                     shape=(None, None, 1))}))

  def _split_generators(self, dl_manager):
    return {'train': self._generate_examples(12, 0),
            'test': self._generate_examples(3, 1)}

  def _generate_examples(self, n, seed):
    rng = np.random.default_rng(seed)
    for i in range(n):
      shape = (rng.integers(8, 40), rng.integers(8, 40), 1)
      yield i, {'image': rng.integers(0, 256, shape, np.uint8)}


def test_tfds_source(tmp_path, no_network):
  VaeganTestImages(data_dir=str(tmp_path)).download_and_prepare()
  config = _config(source='tfds', tfds_name='vaegan_test_images',
                   data_dir=str(tmp_path))
  batch = next(input_pipeline.create_train_iterator(
      config, num_local_devices=2, process_index=1, process_count=2))
  _check_batch(batch, 2, 2)
  # Grayscale sources become RGB with equal channels.
  np.testing.assert_array_equal(batch['image'][..., 0], batch['image'][..., 2])
  held_out = eval_sets.load_eval_data(config, num_masks_per_image=2)
  assert held_out['image'].shape == (6, 16, 16, 3)
  assert held_out['name'][:4] == ['test[0]/m0', 'test[1]/m0', 'test[2]/m0',
                                   'test[0]/m1']


def test_colour_augmentation():
  def batch(**data):
    config = _config(**data)
    config.batch_size = 64
    it = input_pipeline.create_train_iterator(config, num_local_devices=1)
    return _global(next(it))['image']

  plain = batch(grayscale_prob=0.0, channel_permute_prob=0.0)
  colour = np.abs(plain - plain.mean(-1, keepdims=True)).max(axis=(1, 2, 3))
  assert (colour > 0.05).any()  # the batch holds colour crops
  gray = batch(grayscale_prob=1.0, channel_permute_prob=0.0)
  assert np.abs(gray - gray.mean(-1, keepdims=True)).max() < 1e-6
  np.testing.assert_allclose(
      gray, tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(plain)),
      atol=1e-5)
  permuted = batch(grayscale_prob=0.0, channel_permute_prob=1.0)
  np.testing.assert_array_equal(np.sort(permuted, -1), np.sort(plain, -1))
  assert not np.array_equal(permuted, plain)
  # Keyed by (seed, index): the same draws every time.
  np.testing.assert_array_equal(
      permuted, batch(grayscale_prob=0.0, channel_permute_prob=1.0))

"""Input pipeline: images and inpainting masks as tf.data iterators.

Sources (config.data.source):
  'embedded': the real photographs shipped in vaegan_jax/data/photos (no
              download; sources and licences in photos/LICENSES.md), with a
              fixed held-out split of whole photos that training never sees.
  'folder':   the user's own images under config.data.folder.
  'tfds':     a TFDS dataset with an 'image' feature.

Training examples are random square crops (side a random fraction of the
short side), randomly flipped and resized to config.image_size, paired with
a hole mask from masks.mask_for_index.  Randomness is keyed by
(config.seed, global example index) so a run resumed at step k sees the same
data as an uninterrupted one (exactly for 'embedded' and 'folder').
"""
import functools
import json
import os
from typing import Any, Iterator

from absl import logging
import ml_collections
import numpy as np
from PIL import Image
import tensorflow as tf
import tensorflow_datasets as tfds

from vaegan_jax.data import image_folder
from vaegan_jax.data import masks


PHOTOS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'photos')
SPLITS = ('train', 'heldout')
_MAX_SHORT_SIDE = 512
_CROP_SALT = 0x5EED  # Keeps crop randomness apart from the mask streams.
_COLOUR_SALT = 0xC010  # Colour augmentation draws, apart from the crop's.


@functools.lru_cache(maxsize=None)
def embedded_manifest() -> tuple[dict, ...]:
  """The shipped photos: {'file', 'split', 'category', 'source', ...} each."""
  with open(os.path.join(PHOTOS_DIR, 'MANIFEST.json')) as f:
    return tuple(json.load(f))


def embedded_names(split: str) -> tuple[str, ...]:
  """Names (file stems) of the shipped photos of `split`, sorted."""
  if split not in SPLITS:
    raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')
  return tuple(os.path.splitext(p['file'])[0] for p in embedded_manifest()
               if p['split'] == split)


@functools.lru_cache(maxsize=None)
def _embedded(split: str) -> tuple[np.ndarray, ...]:
  images = []
  for name in embedded_names(split):
    with Image.open(os.path.join(PHOTOS_DIR, name + '.jpg')) as im:
      img = np.asarray(im.convert('RGB'))
    h, w = img.shape[:2]
    if min(h, w) > _MAX_SHORT_SIDE:
      # So a crop scale shows a similar amount of content on every image.
      f = _MAX_SHORT_SIDE / min(h, w)
      size = (max(_MAX_SHORT_SIDE, round(w * f)),
              max(_MAX_SHORT_SIDE, round(h * f)))
      img = np.asarray(Image.fromarray(img).resize(size, Image.LANCZOS))
    images.append(np.ascontiguousarray(img, np.uint8))
  return tuple(images)


def load_embedded_images(split: str) -> list[np.ndarray]:
  """Bundled images: uint8 [H, W, 3], short side <= 512; 'train'/'heldout'."""
  return [img.copy() for img in _embedded(split)]


def _uniforms(seed: int, index: tf.Tensor) -> tf.Tensor:
  """U[0, 1) draws [scale, y, x, flip, image] of global example `index`."""
  key = tf.random.experimental.stateless_fold_in(
      tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)]),
      _CROP_SALT)
  return tf.random.stateless_uniform([5], seed=key)


def _crop_box(u: tf.Tensor, h, w, config):
  """Square crop (y0, x0, side), side a U[min, max] fraction of min(h, w)."""
  lo, hi = config.data.min_crop_scale, config.data.max_crop_scale
  short = tf.minimum(h, w)
  side = tf.round((lo + (hi - lo) * u[0]) * tf.cast(short, tf.float32))
  # Never below the output size where the image allows it: upsampled crops
  # would teach the generator blur.
  side = tf.clip_by_value(tf.cast(side, tf.int32),
                          tf.minimum(config.image_size, short), short)
  y0 = tf.cast(u[1] * tf.cast(h - side + 1, tf.float32), tf.int32)
  x0 = tf.cast(u[2] * tf.cast(w - side + 1, tf.float32), tf.int32)
  return tf.minimum(y0, h - side), tf.minimum(x0, w - side), side


def finish_crop(crop: tf.Tensor, flip: tf.Tensor, size: int) -> tf.Tensor:
  """Square uint8/uint16/float crop -> float32 [S, S, 3] in [0, 1]."""
  crop = image_folder.to_float(crop)
  # Crops are often 10x the output: 'area' antialiases them and is ~3x faster
  # than antialiased bilinear; small crops are upsampled bilinearly.
  image = tf.cond(tf.shape(crop)[0] > size,
                  lambda: tf.image.resize(crop, [size, size], 'area'),
                  lambda: tf.image.resize(crop, [size, size], 'bilinear'))
  image = tf.where(flip, tf.reverse(image, [1]), image)
  return tf.clip_by_value(image, 0.0, 1.0)


def _augment_colour(image: tf.Tensor, g: tf.Tensor, config) -> tf.Tensor:
  """Random greyscale / channel permutation of training example `g`.

  Without them the generator learns colour priors of the few training photos
  (bright flat regions are blue sky) and tints grey skies blue; with them it
  has to take the colour from the visible pixels.
  """
  gray_p = config.data.grayscale_prob
  perm_p = config.data.channel_permute_prob
  if not gray_p and not perm_p:
    return image
  key = tf.random.experimental.stateless_fold_in(
      tf.stack([tf.constant(config.seed, tf.int64), tf.cast(g, tf.int64)]),
      _COLOUR_SALT)
  u = tf.random.stateless_uniform([3], seed=key)
  perms = tf.constant([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1],
                       [2, 1, 0]])
  perm = perms[tf.minimum(tf.cast(u[1] * 6, tf.int32), 5)]
  image = tf.where(u[0] < perm_p, tf.gather(image, perm, axis=-1), image)
  gray = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
  return tf.where(u[2] < gray_p, gray, image)


def _plain(fn):
  """fn for tf.data as written: it uses tf.cond, so autograph would only add
  seconds of source conversion to every pipeline's start."""
  return tf.autograph.experimental.do_not_convert(fn)


@functools.lru_cache(maxsize=8)
def mask_fn(seed: int, size: int, masks_json: str):
  """int64 example indices [m] -> [m, size, size, 1] float32 masks, 1 = hole."""
  # Traced once per (seed, size, mask config) and reused across pipelines.
  masks_config = ml_collections.ConfigDict(json.loads(masks_json))
  return tf.function(
      lambda g: masks.masks_for_indices(seed, g, size, size, masks_config),
      autograph=False).get_concrete_function(tf.TensorSpec([None], tf.int64))


def _with_index(image: tf.Tensor, g: tf.Tensor, config):
  # The mask is drawn later, for a whole batch at once (_add_masks).
  del config
  return {'image': image, 'index': tf.cast(g, tf.int64)}


def _add_masks(batch, config):
  draw = mask_fn(config.seed, config.image_size,
                 config.masks.to_json(sort_keys=True))
  return {'image': batch['image'], 'mask': draw(batch['index'])}


def _train_image(image: tf.Tensor, g: tf.Tensor, config) -> tf.Tensor:
  """[h, w, 3] image -> augmented random crop of example g, [S, S, 3].

  The one place where training crops are drawn and augmented, for every
  data source.
  """
  u = _uniforms(config.seed, g)
  shape = tf.shape(image)
  y0, x0, side = _crop_box(u, shape[0], shape[1], config)
  crop = image[y0:y0 + side, x0:x0 + side]
  return _augment_colour(finish_crop(crop, u[3] < 0.5, config.image_size), g,
                         config)


def _embedded_dataset(config, indices: tf.data.Dataset) -> tf.data.Dataset:
  """Crops from all training images, held in one flat uint8 buffer."""
  images = _embedded('train')
  # One buffer, no padding: portrait and landscape photos of many sizes.
  buffer = tf.constant(np.concatenate([img.reshape(-1) for img in images]))
  sizes = [img.size for img in images]
  # Per image: first buffer element, height, width.
  layout = tf.constant([(sum(sizes[:i]), img.shape[0], img.shape[1])
                        for i, img in enumerate(images)], tf.int64)

  def fn(k, g):
    del k
    u = _uniforms(config.seed, g)
    i = tf.minimum(tf.cast(u[4] * len(images), tf.int32), len(images) - 1)
    start, h, w = tf.unstack(layout[i])
    image = tf.reshape(tf.slice(buffer, [start], [h * w * 3]), [h, w, 3])
    return _with_index(_train_image(image, g, config), g, config)

  return indices.map(_plain(fn), num_parallel_calls=tf.data.AUTOTUNE)


def _folder_dataset(config, indices: tf.data.Dataset, process_index: int,
                    process_count: int) -> tf.data.Dataset:
  """Each process reads its shard in a fresh seeded permutation per epoch."""
  folder = config.data.folder
  usable, skipped, ignored = image_folder.list_folder_images(folder)
  # A warning when anything was left out, so train.py's terminal shows it.
  log = logging.warning if skipped or ignored else logging.info
  log('Image folder %s: %d usable, %d skipped%s; %d other files ignored.',
      folder, len(usable), len(skipped),
      ''.join(f'; {os.path.relpath(p, folder)}: {r}' for p, r in skipped[:5]),
      ignored)
  if not usable:
    raise ValueError(
        f'No usable images in config.data.folder={folder!r} ({len(skipped)} '
        f'unreadable, {ignored} without one of the extensions '
        f'{image_folder.IMAGE_EXTENSIONS}).')
  usable, heldout = image_folder.split_heldout(usable,
                                              config.data.folder_heldout)
  if heldout:
    logging.info('Image folder %s: %d images set aside for evaluation '
                 '(data.folder_heldout).', folder, len(heldout))
  shard = usable[process_index::process_count]
  if not shard:
    logging.warning('Fewer images than processes: every process reads all.')
    shard = usable
  files, n = tf.constant(shard), len(shard)

  def fn(k, g):
    # index_shuffle gives random access into the epoch's permutation, so a
    # resumed run continues the exact file order without replaying it.
    epoch_seed = tf.stack([tf.constant(config.seed, tf.int64), k // n])
    j = tf.random.experimental.index_shuffle(k % n, epoch_seed, n - 1)
    image = image_folder.decode(tf.io.read_file(files[j]),
                    lambda image: _train_image(image, g, config))
    return _with_index(image, g, config)

  # PIL vetted every file; a file TF still rejects should not end a long run.
  return indices.map(_plain(fn),
                     num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(
      log_warning=True)


def tfds_builder(config):
  """The prepared builder of config.data.tfds_name, else a clear error."""
  name, data_dir = config.data.tfds_name, config.data.data_dir or None
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f'Unknown TFDS dataset {name!r}: {e}'[:400]) from e
  if builder.is_prepared():
    return builder
  root = data_dir or builder.data_dir_root
  msg = (f'TFDS dataset {name!r} is not prepared in {root}; run '
         f'`tfds build {name} --data_dir={root}` on a machine with internet '
         '(or copy the prepared data there) and point config.data.data_dir '
         'to it; or set config.data.tfds_download=True to let training try '
         'to download it.')
  if not config.data.tfds_download:
    raise RuntimeError(msg)
  try:
    builder.download_and_prepare()
  except Exception as e:  # pylint: disable=broad-except
    raise RuntimeError(f'{msg} Download failed: {type(e).__name__}: {e}') from e
  return builder


def tfds_encoded_images(builder, split: str, *, shuffle_seed=None):
  """Dataset of the encoded 'image' feature of `split`."""
  features = builder.info.features
  if 'image' not in features or not isinstance(features['image'],
                                                tfds.features.Image):
    raise ValueError(f'TFDS dataset {builder.name!r} has no "image" Image '
                     f'feature; features: {list(features.keys())}.')
  # Decoding after the shuffle keeps its buffer of encoded bytes small.
  ds = builder.as_dataset(
      split=split, shuffle_files=shuffle_seed is not None,
      read_config=tfds.ReadConfig(shuffle_seed=shuffle_seed),
      decoders={'image': tfds.decode.SkipDecoding()})
  return ds.map(_plain(lambda ex: ex['image']))


def _tfds_dataset(config, indices, start_step, process_index, process_count):
  builder = tfds_builder(config)
  split = tfds.even_splits(config.data.tfds_split, n=process_count)[
      process_index]
  # The order is seeded but changes with the resume step; crops/masks do not.
  seed = config.seed * 1_000_003 + start_step
  ds = tfds_encoded_images(builder, split, shuffle_seed=seed)
  ds = ds.repeat().shuffle(config.data.shuffle_buffer, seed=seed)

  def fn(encoded, k_g):
    image = image_folder.decode(encoded, lambda image: _train_image(image, k_g[1], config))
    return _with_index(image, k_g[1], config)

  return tf.data.Dataset.zip(ds, indices).map(
      _plain(fn), num_parallel_calls=tf.data.AUTOTUNE)


def create_train_iterator(config, *, num_local_devices: int,
                          start_step: int = 0, process_index: int = 0,
                          process_count: int = 1) -> Iterator[dict[str, Any]]:
  """Endless iterator of sharded training batches.

  Yields:
    {'image': float32 [D, B, S, S, 3] in [0, 1], 'mask': float32
    [D, B, S, S, 1], 1 = hole} with D = num_local_devices, S =
    config.image_size, B = config.batch_size // (process_count * D).
  """
  # config_lib.validate checked that the batch splits evenly.
  per_device = config.batch_size // (process_count * num_local_devices)
  local_batch = per_device * num_local_devices
  # (k, g): this process's example count and the global example index.
  indices = tf.data.Dataset.counter(start_step * local_batch).map(_plain(
      lambda k: (k, (k // local_batch) * config.batch_size
                 + process_index * local_batch + k % local_batch)))
  if config.data.source == 'embedded':
    ds = _embedded_dataset(config, indices)
  elif config.data.source == 'folder':
    ds = _folder_dataset(config, indices, process_index, process_count)
  else:
    ds = _tfds_dataset(config, indices, start_step, process_index,
                       process_count)
  options = tf.data.Options()
  options.deterministic = True
  ds = ds.with_options(options).batch(local_batch, drop_remainder=True)
  ds = ds.map(_plain(lambda b: _add_masks(b, config)),
              num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.prefetch(config.data.prefetch)
  return ({k: v.reshape((num_local_devices, per_device) + v.shape[1:])
           for k, v in batch.items()} for batch in ds.as_numpy_iterator())

"""Fixed evaluation sets: square views and whole photos with fixed masks.

Every call gives the same images and masks, whatever the training seed:
  load_eval_data    square views (crops) of the held-out photos, resized to
                    one size, each with masks of the training mask mixture;
  load_eval_photos  whole held-out photos at their own size, each with one
                    object-like hole (masks.object_mask).
For 'tfds' data the first 16 images of the evaluation split stand in for
the held-out photos; for 'folder' data, the images a training run sets
aside (config.data.folder_heldout), else the folder's first 16.
"""
import os

import numpy as np
from PIL import Image
import tensorflow as tf

from vaegan_jax.data import image_folder
from vaegan_jax.data import input_pipeline
from vaegan_jax.data import masks

EVAL_MASK_SEED = 1234
# Held-out views: the centre square, then centre + 4 corner squares with side
# 0.5 and 0.25 of the short side: 11 views per image.
EVAL_VIEWS = ((1.0, 'center'),) + tuple(
    (s, a) for s in (0.5, 0.25)
    for a in ('center', 'top_left', 'top_right', 'bottom_left', 'bottom_right'))
_MAX_EVAL_IMAGES = 16  # 'folder' and 'tfds' eval sets.


def view(image: np.ndarray, scale: float, anchor: str, size: int):
  """A fixed square view of uint8/float [h, w, 3] -> float32 [S, S, 3]."""
  h, w = image.shape[:2]
  side = max(1, round(scale * min(h, w)))
  vertical, _, horizontal = anchor.partition('_')  # 'center' -> centred.
  y0 = {'top': 0, 'bottom': h - side}.get(vertical, (h - side) // 2)
  x0 = {'left': 0, 'right': w - side}.get(horizontal, (w - side) // 2)
  crop = tf.constant(image[y0:y0 + side, x0:x0 + side])
  return input_pipeline.finish_crop(crop, tf.constant(False), size).numpy()


def load_eval_data(config, *, num_masks_per_image: int = 4,
                   split: str = 'heldout', image_size: int | None = None,
                   views=EVAL_VIEWS):
  """Fixed evaluation set, identical on every call.

  'embedded': the `views` (default EVAL_VIEWS) of each image of `split`
  ('heldout' or 'train').
  'folder': centre squares of the first 16 usable images (sorted paths).
  'tfds': centre squares of the first 16 images of config.data.tfds_eval_split
  (default 'test', else 'validation'; split='train' uses tfds_split).
  Each view is repeated with num_masks_per_image masks; the mask set is the
  outermost axis so any prefix covers as many views as possible.  Mask i is
  masks.mask_for_index(EVAL_MASK_SEED, i, ...).

  Returns:
    {'image': float32 [N, S, S, 3] in [0, 1], 'mask': float32 [N, S, S, 1],
    'name': N strings like 'lomiri_dandelions/0.5_top_left/m1'}.
  """
  size = image_size or config.image_size
  if config.data.source == 'embedded':
    photos = list(zip(input_pipeline.embedded_names(split),
                      input_pipeline.load_embedded_images(split)))
    crops = [(view(img, s, a, size), f'{name}/{s}_{a}')
             for s, a in views for name, img in photos]
  elif config.data.source == 'folder':
    crops = [(view(image_folder.decode(tf.io.read_file(path)).numpy(), 1.0,
                    'center', size),
              os.path.relpath(path, config.data.folder))
             for path in _folder_eval_paths(config, _MAX_EVAL_IMAGES)]
  else:
    builder = input_pipeline.tfds_builder(config)
    name = config.data.tfds_split if split == 'train' else (
        config.data.tfds_eval_split
        or ('test' if 'test' in builder.info.splits else 'validation'))
    ds = input_pipeline.tfds_encoded_images(builder, name)
    crops = [(view(image_folder.decode(x).numpy(), 1.0, 'center', size),
              f'{name}[{i}]')
             for i, x in enumerate(ds.take(_MAX_EVAL_IMAGES))]
  n = len(crops) * num_masks_per_image
  draw = input_pipeline.mask_fn(EVAL_MASK_SEED, size,
                                config.masks.to_json(sort_keys=True))
  return {
      'image': np.stack([v for v, _ in crops] * num_masks_per_image),
      'mask': draw(tf.range(n, dtype=tf.int64)).numpy(),
      'name': [f'{name}/m{m}' for m in range(num_masks_per_image)
               for _, name in crops],
  }


def _folder_eval_paths(config, max_images: int):
  """The images a folder run set aside (data.folder_heldout), else the
  folder's first `max_images` (a folder only evaluated, or too small)."""
  usable = image_folder.list_folder_images(config.data.folder)[0]
  heldout = image_folder.split_heldout(usable,
                                       config.data.folder_heldout)[1]
  return (heldout or usable)[:max_images]


def _fit_long_side(image: np.ndarray, max_side: int) -> np.ndarray:
  h, w = image.shape[:2]
  if max(h, w) <= max_side:
    return image
  f = max_side / max(h, w)
  size = (max(1, round(w * f)), max(1, round(h * f)))
  return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def named_images(config, *, split: str = 'heldout',
                 max_images: int = _MAX_EVAL_IMAGES,
                 tfds_splits=('test', 'validation')):
  """[(name, image)] of the evaluation photos, in a fixed order.

  'embedded': every photo of `split`; 'folder': the first `max_images`
  sorted files; 'tfds': the first `max_images` of
  config.data.tfds_eval_split, else the first of `tfds_splits` the dataset
  has.  Images are uint8 or float [H, W, 3] as decoded.
  """
  if config.data.source == 'embedded':
    return list(zip(input_pipeline.embedded_names(split),
                    input_pipeline.load_embedded_images(split)))
  if config.data.source == 'folder':
    return [(os.path.relpath(p, config.data.folder),
             image_folder.decode(tf.io.read_file(p)).numpy())
            for p in _folder_eval_paths(config, max_images)]
  builder = input_pipeline.tfds_builder(config)
  name = config.data.tfds_eval_split or next(
      (s for s in tfds_splits if s in builder.info.splits), tfds_splits[-1])
  ds = input_pipeline.tfds_encoded_images(builder, name)
  return [(f'{name}[{i}]', image_folder.decode(x).numpy())
          for i, x in enumerate(ds.take(max_images))]


def load_eval_photos(config, *, max_side: int = 1024, split: str = 'heldout'):
  """Whole photos at their own size, each with a fixed object-like hole.

  'embedded': every photo of `split`; 'folder' / 'tfds': the same first 16
  images as load_eval_data.  Photos longer than `max_side` are downscaled to
  it.  Photo i gets masks.object_mask(EVAL_MASK_SEED, i, H_i, W_i): a union
  of a few ellipses covering 5-15% of it.

  Returns:
    {'image': list of float32 [H_i, W_i, 3] in [0, 1], 'mask': list of
    float32 [H_i, W_i, 1], 'name': list of str}.
  """
  named = named_images(config, split=split)
  images, holes = [], []
  for i, (_, image) in enumerate(named):
    if image.dtype != np.uint8:  # decoded as float in [0, 1]
      image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    image = _fit_long_side(image, max_side)
    images.append(image.astype(np.float32) / 255.0)
    holes.append(masks.object_mask(EVAL_MASK_SEED, i, *image.shape[:2]))
  return {'image': images, 'mask': holes, 'name': [n for n, _ in named]}

"""Image files: validating a user's folder and decoding with TF."""
import concurrent.futures
import functools
import io
import os

from PIL import Image
import tensorflow as tf

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp')
# Formats tf.io.decode_image reads; PIL also reports some JPEGs as 'MPO'.
_TF_FORMATS = ('JPEG', 'MPO', 'PNG', 'GIF', 'BMP', 'WEBP')


def list_folder_images(folder: str):
  """Scans `folder` recursively and validates every image file with PIL.

  Returns:
    (usable paths sorted, [(path, reason)] of skipped image files, number of
    ignored files without an image extension).
  """
  if not folder or not tf.io.gfile.isdir(folder):
    raise ValueError(f'config.data.folder={folder!r} is not a directory.')
  paths = [os.path.join(root, name)
           for root, _, names in tf.io.gfile.walk(folder) for name in names]
  candidates = sorted(p for p in paths
                      if os.path.splitext(p)[1].lower() in IMAGE_EXTENSIONS)
  ignored = len(paths) - len(candidates)
  with concurrent.futures.ThreadPoolExecutor(16) as pool:
    reasons = list(pool.map(image_problem, candidates))
  usable = [p for p, r in zip(candidates, reasons) if r is None]
  skipped = [(p, r) for p, r in zip(candidates, reasons) if r is not None]
  return usable, skipped, ignored


def split_heldout(usable, count: int):
  """(training paths, held-out paths) of a folder's sorted usable images:
  the first `count` are set aside for evaluation when the folder has more
  than 2 * count images; otherwise none is (a small folder trains on all,
  and its evaluation images are also trained on)."""
  if count <= 0 or len(usable) <= 2 * count:
    return list(usable), []
  return list(usable[count:]), list(usable[:count])


def image_problem(path: str) -> str | None:
  """None if TF can decode `path` to correct RGB, else why not."""
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      data = f.read()  # GFile raises at EOF where PIL expects short reads.
    if not data:
      return 'zero bytes'
    with Image.open(io.BytesIO(data)) as im:
      if im.format not in _TF_FORMATS:
        return f'unsupported format {im.format}'
      if im.format == 'BMP' and im.mode not in ('RGB', 'RGBA', 'L'):
        # TF would read palette indices as grey levels.
        return f'unsupported BMP mode {im.mode}'
      # A full decode catches truncation; draft() makes JPEGs cheap to check.
      im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
      im.load()
  except Image.UnidentifiedImageError:
    return 'not an image PIL can identify'
  except Exception as e:  # pylint: disable=broad-except
    return f'{type(e).__name__}: {e}'[:120]
  return None


to_float = functools.partial(tf.image.convert_image_dtype, dtype=tf.float32)


def decode(encoded: tf.Tensor, then=to_float) -> tf.Tensor:
  """Encoded image -> then(uint8/uint16 [h, w, 3]); default float32 [0, 1]."""
  def branch(dtype):
    def fn():
      image = tf.io.decode_image(encoded, channels=3, dtype=dtype,
                                 expand_animations=False)
      image.set_shape([None, None, 3])
      return then(image)
    return fn
  # Integer decoding keeps a huge photo at 1-2 bytes/pixel until it is
  # cropped; uint16 keeps 16-bit PNGs exact (TF reads WebP as uint8 only).
  is_png = tf.equal(tf.strings.substr(encoded, 0, 4), b'\x89PNG')
  return tf.cond(is_png, branch(tf.uint16), branch(tf.uint8))

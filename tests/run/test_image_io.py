"""PNG/JPEG writing and reading of vaegan_jax/run/image_io.py."""
import numpy as np
from PIL import Image

from vaegan_jax.run import image_io


def test_save_png_round_trips_exactly(tmp_path):
  image = np.random.default_rng(0).integers(0, 256, (9, 7, 3), np.uint8)
  path = tmp_path / 'x.png'
  image_io.save_png(str(path), image)
  np.testing.assert_array_equal(image_io.read_image(str(path)), image)
  image_io.save_png(path, image.astype(np.float32) / 255.0)  # float, Path
  np.testing.assert_array_equal(image_io.read_image(str(path)), image)


def test_save_png_follows_the_extension(tmp_path):
  image = np.full((8, 8, 3), 200, np.uint8)
  image_io.save_png(str(tmp_path / 'x.jpg'), image)
  with Image.open(tmp_path / 'x.jpg') as im:
    assert im.format == 'JPEG'
  image_io.save_png(str(tmp_path / 'noext'), image)
  with Image.open(tmp_path / 'noext') as im:
    assert im.format == 'PNG'

"""seams: a fill meets the visible pixels without a step."""
import numpy as np

from tests import conftest
from vaegan_jax.inference import seams


def test_seam_correction_removes_a_colour_shift():
  image = conftest.smooth_photo(80, 90)
  hole = np.zeros((80, 90), bool)
  hole[20:60, 30:70] = True
  shifted = image + np.array([0.2, -0.1, 0.15], np.float32)  # wrong colour
  out = seams.seam_correct(shifted, image, hole)
  np.testing.assert_array_equal(out[~hole], image[~hole])
  # Across the hole's border the step is gone; the texture is kept.
  step = np.abs(out[19, 30:70] - out[20, 30:70]).mean()
  before = np.abs(image[19, 30:70] - shifted[20, 30:70]).mean()
  assert before > 0.1 and step < 0.2 * before
  np.testing.assert_allclose(np.abs(out[hole] - image[hole]).mean(), 0.0,
                             atol=0.03)


def test_relax_is_jacobi_with_the_border_extended():
  rng = np.random.default_rng(0)
  field = rng.random((21, 34, 3)).astype(np.float32)
  free = np.zeros((21, 34), bool)
  free[4:, 2:] = True  # touching the bottom and right borders
  want = field.copy()
  for _ in range(12):
    p = np.pad(want, ((1, 1), (1, 1), (0, 0)), mode='edge')
    mean = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) / 4.0
    want = np.where(free[..., None], mean, want)
  np.testing.assert_allclose(seams.relax(field, free, 12), want,
                             atol=1e-6)

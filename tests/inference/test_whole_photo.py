"""Tests of vaegan_jax/inference/whole_photo.py with stand-in models (no training)."""
import numpy as np
import pytest

from tests import conftest
from vaegan_jax.inference import whole_photo


def _flat_model(calls):
  """Fills every hole with the mean visible colour of its call."""
  def model(images, holes, key):
    del key
    calls.append(images.shape)
    out = images.copy()
    for i in range(len(images)):
      mean = images[i][~holes[i]].mean(0) if (~holes[i]).any() else 0.5
      out[i][holes[i]] = mean
    return out
  return model


def test_plan_crops_a_small_hole_and_goes_coarse_for_a_big_one():
  hole = np.zeros((1200, 1600), bool)
  hole[500:520, 700:730] = True
  p = whole_photo.plan(hole, 64)
  y0, y1, x0, x1 = p.box
  assert (y1 - y0) * (x1 - x0) < 0.02 * hole.size
  assert y0 <= 500 and y1 >= 520 and x0 <= 700 and x1 >= 730
  assert p.scales[-1] == 1.0
  big = np.zeros((2000, 2000), bool)
  big[800:1200, 800:1200] = True
  p = whole_photo.plan(big, 64)
  # The 400 px hole is ~24 px (within a factor sqrt(2)) at the coarsest
  # scale, then x2 per scale.
  assert 24 / 2**0.5 <= p.scales[0] * 400 <= 24 * 2**0.5
  np.testing.assert_allclose(np.diff(np.log2(p.scales)), 1.0)


def test_far_apart_holes_are_filled_in_separate_small_boxes():
  hole = np.zeros((1000, 1000), bool)
  hole[50:60, 50:60] = True
  hole[900:910, 900:910] = True
  hole[60:70, 62:70] = True  # near the first: same group
  parts = whole_photo.groups(hole, 64)
  assert len(parts) == 2
  np.testing.assert_array_equal(np.logical_or.reduce(parts), hole)
  assert whole_photo.groups(np.zeros((5, 5), bool), 64) == []


def test_tiles_cover_the_hole_and_blend_without_seams():
  image = conftest.smooth_photo(700, 900)
  hole = np.zeros((700, 900), bool)
  hole[100:650, 50:850] = True
  calls = []

  def identity(images, holes, key):
    calls.append(images.shape)
    return images + 0.1  # a known, consistent answer per pixel
  out = whole_photo.run_tiled(identity, image, hole, None, tile=256,
                              overlap=64)
  assert all(s[1:3] == (256, 256) for s in calls)
  assert max(s[0] for s in calls) <= whole_photo.TILE_BATCH
  np.testing.assert_allclose(out[hole], image[hole] + 0.1, atol=1e-5)


@pytest.mark.parametrize('shape,box', [
    ((37, 53), (5, 30, 0, 20)),          # odd size, hole on the border
    ((301, 433), (100, 280, 60, 400)),   # one big hole
    ((250, 333), None),                  # many small holes
])
def test_fill_odd_sizes_border_and_many_holes(shape, box):
  image = conftest.smooth_photo(*shape)
  hole = np.zeros(shape, bool)
  if box is None:
    rng = np.random.RandomState(1)
    for y, x in zip(rng.randint(0, shape[0] - 6, 40),
                    rng.randint(0, shape[1] - 6, 40)):
      hole[y:y + 5, x:x + 5] = True
  else:
    hole[box[0]:box[1], box[2]:box[3]] = True
  calls = []
  out = whole_photo.fill(_flat_model(calls), image, hole, work_size=64)
  assert out.shape == image.shape and np.isfinite(out).all()
  np.testing.assert_array_equal(out[~hole], image[~hole])
  # A flat fill blended to the border: close to the smooth photo.
  assert np.abs(out[hole] - image[hole]).mean() < 0.1
  assert all(max(s[1:3]) <= whole_photo.TILE for s in calls)


def test_texture_is_kept_at_the_finest_scale_and_structure_from_the_coarsest():
  h = w = 512
  image = np.full((h, w, 3), 0.5, np.float32)
  hole = np.zeros((h, w), bool)
  hole[128:384, 128:384] = True
  checker = (np.indices((h, w)).sum(0) % 2 * 0.2 - 0.1)[..., None]

  def model(images, holes, key):
    del key
    # Right colour only at the coarsest scale (64 px), plus a 2-px checker
    # of amplitude 0.1 at every scale.
    colour = 0.7 if images.shape[1] <= 64 else 0.2
    c = checker[:images.shape[1], :images.shape[2]]
    return np.where(holes[..., None], colour + c, images).astype(np.float32)
  out = whole_photo.fill(model, image, hole, work_size=64)
  inner = out[192:320, 192:320]
  # Structure (the mean) from the coarsest scale, seam-corrected towards
  # the surroundings; texture (the checker) from the finest.
  assert inner.mean() > 0.55
  detail = inner - inner.mean()
  assert 0.07 < np.abs(detail).mean() < 0.13


def test_memory_check_is_called_with_the_working_region():
  asked = []

  def refuse(need, what):
    asked.append((need, what))
    raise MemoryError(what)
  hole = np.zeros((3000, 4000), bool)
  hole[:, 1000:3000] = True
  with pytest.raises(MemoryError):
    whole_photo.fill(_flat_model([]), np.zeros((3000, 4000, 3), np.float32),
                     hole, work_size=64, check_memory=refuse)
  assert asked[0][0] >= whole_photo.BYTES_PER_PIXEL * 3000 * 2000


def test_hole_thickness_is_the_widest_disc():
  hole = np.zeros((90, 120), bool)
  yy, xx = np.mgrid[:90, :120]
  hole[(yy - 40) ** 2 + (xx - 60) ** 2 <= 20 ** 2] = True
  hole[80:, :] = True  # a thin band on the border: 10 rows
  assert whole_photo.hole_thickness(hole) == pytest.approx(40.0, abs=1.5)
  assert whole_photo.hole_thickness(hole[70:]) == pytest.approx(20.0, abs=1.0)
  assert whole_photo.hole_thickness(np.zeros((5, 5), bool)) == 0.0

"""The patch engine's pyramid and what moves between its levels."""
import cv2
import numpy as np
import pytest

from vaegan_jax.inference import patch_pyramid as pp


@pytest.mark.parametrize('coarse_hw,hw', [((20, 26), (40, 52)),
                                          ((19, 13), (37, 25))])
def test_upsample_box_is_the_whole_resize_there(coarse_hw, hw):
  rng = np.random.default_rng(0)
  coarse = rng.random((2,) + coarse_hw + (5,)).astype(np.float32)
  whole = np.stack([cv2.resize(c, (hw[1], hw[0]),
                               interpolation=cv2.INTER_LINEAR)
                    for c in coarse])
  for origin, box in (((0, 0), hw), ((3, 5), (11, 9)),
                      ((hw[0] - 6, hw[1] - 7), (6, 7))):
    got = pp.upsample_box(coarse, hw, origin, box)
    want = whole[:, origin[0]:origin[0] + box[0],
                 origin[1]:origin[1] + box[1]]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_vote_box_copies_the_matched_sources_and_never_a_hole_pixel():
  rng = np.random.default_rng(1)
  image = rng.random((30, 40, 3)).astype(np.float32)
  hole = np.zeros((30, 40), bool)
  hole[10:18, 12:22] = True
  image[hole] = 100.0  # a vote that read the hole would show
  origin, box = (8, 10), (12, 14)
  ys, xs = np.mgrid[:box[0], :box[1]]
  # Every box pixel matches the pixel 11 rows below it (visible):
  # with patch 1 each hole pixel is that pixel's colour, with patch 3 the
  # mean over its neighbours' matches, the same pixel again.
  nnf = np.stack([ys + origin[0] + 11, xs + origin[1]], -1)[None]
  nnf = np.minimum(nnf, [29, 39]).astype(np.int32)
  starts = np.zeros((1,) + box + (3,), np.float32)
  for patch in (1, 3):
    out = pp.vote_box(image, hole, starts, nnf, origin, patch)
    assert out.shape == (1,) + box + (3,)
    sub = hole[origin[0]:origin[0] + box[0], origin[1]:origin[1] + box[1]]
    src = image[nnf[0, ..., 0], nnf[0, ..., 1]]
    np.testing.assert_allclose(out[0][sub], src[sub], atol=1e-6)
    np.testing.assert_array_equal(out[0][~sub], 0.0)  # starts kept
  # A match into the hole does not vote: the pixel keeps its start.
  into = np.full_like(nnf, 0)
  into[..., 0], into[..., 1] = 12, 15
  out = pp.vote_box(image, hole, starts + 0.5, into, origin, 3)
  np.testing.assert_array_equal(out, 0.5)


def test_paste_writes_only_the_hole_of_the_box():
  image = np.zeros((10, 12, 3), np.float32)
  hole = np.zeros((10, 12), bool)
  hole[7:10, 9:12] = True
  values = np.ones((2, 5, 5, 3), np.float32)  # past the border: clipped
  out = pp.paste(image, values, hole, (7, 9))
  assert out.shape == (2, 10, 12, 3)
  np.testing.assert_array_equal(out[:, hole], 1.0)
  np.testing.assert_array_equal(out[:, ~hole], 0.0)


def test_carry_doubles_the_offsets_and_matches_itself_outside_the_box():
  nnf = np.zeros((1, 4, 4, 2), np.int32)
  # Absolute coordinates of the box at (2, 3): 10 rows down, 2 right.
  nnf[0, ..., 0] = np.arange(4)[:, None] + 2 + 10
  nnf[0, ..., 1] = np.arange(4)[None, :] + 3 + 2
  up = pp.carry(nnf, (2, 3), (20, 20), (40, 40), (0, 0), (16, 20))
  assert up.shape == (1, 16, 20, 2)
  ys, xs = np.mgrid[:16, :20]
  parent_in = (ys // 2 >= 2) & (ys // 2 < 6) & (xs // 2 >= 3) & (xs // 2 < 7)
  np.testing.assert_array_equal(up[0, ..., 0][parent_in],
                                ys[parent_in] + 20)
  np.testing.assert_array_equal(up[0, ..., 1][parent_in],
                                xs[parent_in] + 4)
  np.testing.assert_array_equal(up[0, ..., 0][~parent_in], ys[~parent_in])
  np.testing.assert_array_equal(up[0, ..., 1][~parent_in], xs[~parent_in])


def test_texture_channels_read_no_hole_pixel():
  rng = np.random.default_rng(2)
  image = rng.random((20, 24, 3)).astype(np.float32)
  hole = np.zeros((20, 24), bool)
  hole[5:9, 6:12] = True
  t = pp.texture_channels(image, hole, 2.0)
  grey = image.mean(-1)
  want_y = 2.0 * np.abs(grey[1:] - grey[:-1])
  ok_y = ~hole[1:] & ~hole[:-1]
  np.testing.assert_allclose(t[:-1, :, 0][ok_y], want_y[ok_y], rtol=1e-6)
  assert (t[:-1, :, 0][~ok_y] == 0).all() and (t[-1, :, 0] == 0).all()
  image2 = image.copy()
  image2[hole] = 7.0
  np.testing.assert_array_equal(pp.texture_channels(image2, hole, 2.0), t)

"""patch_synthesis: the guided PatchMatch that rebuilds holes from the photo."""

import jax
import numpy as np
import pytest

from vaegan_jax.inference import patch_synthesis as ps
from vaegan_jax.inference import patch_pyramid as pp

# Small, fast settings for the unit tests (the defaults are for photos).
FAST = ps.Settings(patch=7, dims=12, max_rounds=4, max_iters=2)


def _stripes(h, w, period=6, vertical=False):
  t = np.arange(w if vertical else h)
  band = (np.sin(2 * np.pi * t / period) > 0).astype(np.float32)
  img = np.broadcast_to(band[None, :] if vertical else band[:, None], (h, w))
  rgb = np.stack([0.2 + 0.6 * img, 0.3 + 0.2 * img, 0.8 - 0.5 * img], -1)
  return rgb.astype(np.float32)


def _smooth_guide(image, hole):
  """The mean visible colour in the hole: a guide with no texture."""
  return np.where(hole[..., None], image[~hole].mean(0), image)


def test_fills_a_periodic_texture_with_the_texture():
  img = _stripes(48, 56)
  hole = np.zeros((48, 56), bool)
  hole[16:34, 20:40] = True
  out = ps.synthesize(img, hole, _smooth_guide(img, hole),
                      jax.random.PRNGKey(0), FAST)
  np.testing.assert_array_equal(out[~hole], img[~hole])
  err = np.abs(out - img)[hole].mean()
  flat = np.abs(_smooth_guide(img, hole) - img)[hole].mean()
  assert err < 0.25 * flat, (err, flat)
  # Texture, not blur: the fill keeps the stripes' contrast.
  assert out[hole].std(0).mean() > 0.8 * img[hole].std(0).mean()


@pytest.mark.heavy
def test_the_guide_decides_which_texture_goes_where():
  """Top: red vertical stripes, bottom: blue horizontal stripes.  The hole
  spans both; the guide says where each goes, and the fill follows it."""
  h, w = 64, 64
  top = _stripes(h, w, vertical=True) * np.array([1.0, 0.3, 0.3], np.float32)
  bottom = _stripes(h, w) * np.array([0.3, 0.3, 1.0], np.float32)
  img = np.where((np.arange(h) < h // 2)[:, None, None], top, bottom)
  hole = np.zeros((h, w), bool)
  hole[12:52, 16:48] = True
  for split in (24, 40):  # the guide's border, not the image's (32)
    guide = img.copy()
    rows = np.arange(h)[:, None, None]
    guide = np.where(hole[..., None],
                     np.where(rows < split, top.mean((0, 1)),
                              bottom.mean((0, 1))), img)
    out = ps.synthesize(img, hole, guide, jax.random.PRNGKey(0),
                        FAST._replace(guide_weight=1.0))
    redness = out[..., 0] - out[..., 2]
    assert redness[14:split - 4, 18:46].mean() > 0.1
    assert redness[split + 4:50, 18:46].mean() < -0.1


def test_keys_give_different_fills_and_the_same_key_the_same():
  rng = np.random.default_rng(3)
  img = np.clip(_stripes(40, 40) + rng.normal(0, 0.1, (40, 40, 3)), 0, 1)
  img = img.astype(np.float32)
  hole = np.zeros((40, 40), bool)
  hole[10:30, 12:28] = True
  guide = _smooth_guide(img, hole)
  a = ps.synthesize(img, hole, guide, jax.random.PRNGKey(0), FAST)
  b = ps.synthesize(img, hole, guide, jax.random.PRNGKey(0), FAST)
  c = ps.synthesize(img, hole, guide, jax.random.PRNGKey(1), FAST)
  np.testing.assert_array_equal(a, b)
  assert np.abs(a - c)[hole].mean() > 0.02


def test_samples_in_one_pass_are_the_single_fills():
  """k guides and keys searched as one call: the first equals its own
  single fill, each sample follows its own guide, and known pixels stay."""
  rng = np.random.default_rng(5)
  img = np.clip(_stripes(40, 40) + rng.normal(0, 0.1, (40, 40, 3)), 0, 1)
  img = img.astype(np.float32)
  hole = np.zeros((40, 40), bool)
  hole[10:30, 12:28] = True
  dark = np.where(hole[..., None], 0.1, img).astype(np.float32)
  guides = np.stack([_smooth_guide(img, hole), dark])
  keys = [jax.random.PRNGKey(0), jax.random.PRNGKey(1)]
  both = ps.synthesize_samples(img, hole, guides, keys,
                               FAST._replace(guide_weight=1.0))
  assert both.shape == (2, 40, 40, 3)
  one = ps.synthesize(img, hole, guides[0], keys[0],
                      FAST._replace(guide_weight=1.0))
  np.testing.assert_allclose(both[0], one, atol=1e-5)
  for out in both:
    np.testing.assert_array_equal(out[~hole], img[~hole])
  assert np.abs(both[0] - both[1])[hole].mean() > 0.02
  # The dark guide pulls its sample darker than the mean-colour guide's.
  assert both[1][hole].mean() < both[0][hole].mean()


@pytest.mark.parametrize('shape,box', [
    ((37, 53), (0, 12, 40, 53)),     # odd size, hole on the corner
    ((29, 71), (10, 29, 0, 15)),     # hole on the bottom-left border
])
def test_odd_sizes_and_border_holes(shape, box):
  rng = np.random.default_rng(4)
  img = rng.random(shape + (3,)).astype(np.float32)
  hole = np.zeros(shape, bool)
  hole[box[0]:box[1], box[2]:box[3]] = True
  out = ps.synthesize(img, hole, _smooth_guide(img, hole),
                      jax.random.PRNGKey(0), FAST)
  assert out.shape == img.shape and out.dtype == np.float32
  assert np.isfinite(out).all()
  np.testing.assert_array_equal(out[~hole], img[~hole])
  # Every hole pixel was written with visible colours (none left as the
  # guide's flat mean).
  assert (np.abs(out - _smooth_guide(img, hole))[hole].max(-1) > 0).mean() > 0.9


def test_pyramid_levels_halve_and_average_only_visible_pixels():
  img = np.zeros((40, 52, 3), np.float32)
  img[:, :26] = 1.0
  hole = np.zeros((40, 52), bool)
  hole[:, 20:26] = True
  img[hole] = 100.0  # must never leak into a coarser level
  levels = pp.pyramid(img, hole, 8)
  assert [l[1].shape for l in levels] == [(40, 52), (20, 26), (10, 13)]
  for im, hl in levels[1:]:
    assert im.max() <= 1.0 + 1e-6


_COMPILES = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **_: _COMPILES.append(event) if event ==
    '/jax/core/compile/backend_compile_duration' else None)


@pytest.mark.heavy
def test_nearby_sizes_share_compiled_levels():
  rng = np.random.default_rng(5)

  def run(h, w):
    img = rng.random((h, w, 3)).astype(np.float32)
    hole = np.zeros((h, w), bool)
    hole[h // 3:h // 2, w // 4:w // 2] = True
    return ps.synthesize(img, hole, _smooth_guide(img, hole),
                         jax.random.PRNGKey(0), FAST)

  run(70, 90)
  before = len(_COMPILES)
  for h, w in ((66, 94), (75, 81), (79, 95)):  # the same padded sizes
    run(h, w)
  assert len(_COMPILES) == before


def test_levels_above_the_search_size_copy_the_carried_match():
  """Large levels only vote the match carried up: texture that the searched
  levels resolve (period 12 px here) is copied in phase."""
  img = _stripes(96, 112, period=12)
  hole = np.zeros((96, 112), bool)
  hole[30:66, 40:76] = True
  settings = FAST._replace(max_search_side=48)
  out = ps.synthesize(img, hole, _smooth_guide(img, hole),
                      jax.random.PRNGKey(0), settings)
  np.testing.assert_array_equal(out[~hole], img[~hole])
  err = np.abs(out - img)[hole].mean()
  flat = np.abs(_smooth_guide(img, hole) - img)[hole].mean()
  assert err < 0.35 * flat, (err, flat)


def test_shrinking_pyramid_closes_the_hole_and_never_reads_it():
  rng = np.random.default_rng(6)
  img = rng.random((100, 120, 3)).astype(np.float32)
  hole = np.zeros((100, 120), bool)
  hole[20:80, 30:90] = True
  img[hole] = 100.0
  levels = pp.pyramid(img, hole, 4, shrink=True)
  counts = [hl.sum() for _, hl in levels]
  assert counts[0] == 3600 and counts[-1] == 0
  assert all(b < a / 3 for a, b in zip(counts, counts[1:]) if a)
  for im, _ in levels[1:]:
    assert im.max() <= 1.0 + 1e-6


@pytest.mark.parametrize('gradients', [False, True])
def test_engine_never_reads_unknown_pixels_and_copies_texture(gradients):
  settings = FAST._replace(gradients=gradients)
  img = _stripes(40, 44)
  hole = np.zeros((40, 44), bool)
  hole[12:28, 10:30] = True
  guide = _smooth_guide(img, hole)
  other = np.where(hole[..., None], 1.0 - img, img)
  a = ps.synthesize(img, hole, guide, jax.random.PRNGKey(0), settings)
  b = ps.synthesize(other, hole, guide, jax.random.PRNGKey(0), settings)
  np.testing.assert_array_equal(a, b)
  if gradients:  # A setting, off by default (docs/quality.md): no quality bar.
    return
  # Best-only last votes: every hole pixel is a colour of the visible
  # region, and the stripes continue in phase.
  colours = np.unique(img[~hole].reshape(-1, 3), axis=0)
  dist = np.abs(a[hole][:, None] - colours[None]).sum(-1).min(-1)
  assert (dist < 1e-6).mean() > 0.99
  assert np.abs(a - img)[hole].mean() < 0.1 * np.abs(guide - img)[hole].mean()


def test_texture_channels_are_the_visible_gradients_and_are_voted():
  img = _stripes(40, 48, period=4, vertical=True)
  hole = np.zeros((40, 48), bool)
  hole[12:28, 14:34] = True
  t = pp.with_texture(img, hole, 2.0)
  assert t.shape == (40, 48, 5)
  np.testing.assert_array_equal(t[..., :3], img)
  grey = img.mean(-1)
  np.testing.assert_allclose(t[5, :-1, 4], 2.0 * np.abs(np.diff(grey[5])))
  np.testing.assert_array_equal(t[..., 3], 0.0)  # flat along y
  # No difference reads a hole pixel: not in it, nor from its edge into it.
  assert (t[hole][:, 3:] == 0).all()
  assert (t[11, 14:34, 3] == 0).all() and (t[12:28, 13, 4] == 0).all()
  assert (t[12:28, 12, 4] > 0).all()  # visible stripes beside it
  assert pp.with_texture(img, hole, 0.0).shape == (40, 48, 3)
  out = ps.synthesize(img, hole, _smooth_guide(img, hole),
                      jax.random.PRNGKey(0), FAST._replace(texture_weight=1.0))
  assert out.shape == img.shape
  np.testing.assert_array_equal(out[~hole], img[~hole])
  assert out[hole].std(0).mean() > 0.8 * img[hole].std(0).mean()


def test_a_plan_compiles_each_searched_level_once_and_reuses_it():
  img = _stripes(48, 56)
  hole = np.zeros((48, 56), bool)
  hole[16:34, 20:40] = True
  first = ps.plan(img, hole, 2, FAST)
  searched = [d for d, spec in enumerate(first.levels)
              if spec is not None and not spec.only_vote]
  assert searched and sorted(first.programs) == searched
  exes = [first.programs[d].result() for d in searched]
  again = ps.plan(img, hole, 2, FAST)
  for d, exe in zip(searched, exes):
    assert again.programs[d].result() is exe  # not compiled again
  out = ps.synthesize_samples(img, hole, np.stack([_smooth_guide(img, hole)] * 2),
                              [jax.random.PRNGKey(0), jax.random.PRNGKey(1)],
                              FAST, again)
  assert out.shape == (2, 48, 56, 3)


def test_the_patch_side_follows_the_size():
  s = ps.Settings()
  assert ps.for_size(s, (256, 256)).patch == s.patch == 7  # a crop
  assert ps.for_size(s, (300, 400)).patch == s.large_patch == 9  # a photo
  assert ps.for_size(s._replace(large_side=0), (3000, 4000)).patch == 7
  img = _stripes(60, 400)
  hole = np.zeros((60, 400), bool)
  hole[20:40, 150:200] = True
  schedule = ps.plan(img, hole, 1, FAST)
  searched = [spec for spec in schedule.levels if spec is not None]
  assert searched and all(spec.vote_patch in (9, FAST.final_vote_patch)
                          for spec in searched if not spec.best)

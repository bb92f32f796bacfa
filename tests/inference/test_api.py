"""inpaint(): exact known pixels, any size, dtypes, batching, sampling."""
import collections
import time

import jax
import jax.monitoring
import numpy as np
import pytest

from tests.conftest import image_of, unzero_kernels
from vaegan_jax.configs import test as test_config
from vaegan_jax.inference import api
from vaegan_jax.inference import inputs
from vaegan_jax.inference import runner
from vaegan_jax.inference import seams
from vaegan_jax.inference import whole_photo
from vaegan_jax.training import train_lib


@pytest.fixture(scope='module')
def params():
  config = test_config.get_config()
  _, _, _, state = train_lib.create_train_state(config, jax.random.PRNGKey(0))
  return api.InpaintParams(
      params=unzero_kernels({k: state.ema_params[k]
                             for k in ('prior', 'generator')}),
      model_config=config.model, step=0)


def _mask(h, w):
  m = np.zeros((h, w), bool)
  m[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = True
  return m


@pytest.mark.heavy
@pytest.mark.parametrize('dtype', [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize('h,w', [(16, 16), (13, 21), (5, 7)])
def test_known_pixels_exact_any_size(params, dtype, h, w):
  image = image_of((h, w, 3), dtype)
  mask = _mask(h, w)
  out = api.inpaint(params, image, mask)
  assert out.shape == image.shape and out.dtype == image.dtype
  np.testing.assert_array_equal(out[~mask], image[~mask])
  assert not np.array_equal(out[mask], image[mask])
  if dtype != np.uint8:
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.heavy
def test_batched_and_mask_forms(params):
  images = image_of((3, 12, 20, 3), np.float32)
  mask = _mask(12, 20)
  a = api.inpaint(params, images, mask)
  b = api.inpaint(params, images, mask[..., None].astype(np.uint8))
  c = api.inpaint(params, images, np.stack([mask] * 3)[..., None])
  assert a.shape == images.shape
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a, c)
  single = api.inpaint(params, images[1], mask.astype(np.float32))
  np.testing.assert_allclose(single, a[1], atol=1e-6)


@pytest.mark.heavy
def test_num_samples_are_diverse(params):
  image = image_of((16, 16, 3), np.uint8)
  mask = _mask(16, 16)
  out = api.inpaint(params, image, mask, num_samples=3,
                          rng=jax.random.PRNGKey(1))
  assert out.shape == (3, 16, 16, 3) and out.dtype == np.uint8
  for k in range(3):
    np.testing.assert_array_equal(out[k][~mask], image[~mask])
  assert not np.array_equal(out[0][mask], out[1][mask])
  again = api.inpaint(params, image, mask, num_samples=3,
                            rng=jax.random.PRNGKey(1))
  np.testing.assert_array_equal(out, again)
  batched = api.inpaint(params, np.stack([image] * 2), mask,
                              num_samples=2)
  assert batched.shape == (2, 2, 16, 16, 3)


@pytest.mark.heavy
def test_default_fill_is_the_prior_mean_and_shares_the_samples_program(
    params, monkeypatch):
  monkeypatch.setattr(runner, '_EXECUTABLES', collections.OrderedDict())
  image = image_of((1, 16, 16, 3), np.float32)
  mask = _mask(16, 16)[None]
  out = runner.Runner(params)(image, mask, None)  # the default's model call
  net = api.models.create_networks(params.model_config).inpainter
  mean = net.apply({'params': params.params}, image * 2.0 - 1.0,
                   mask[..., None].astype(np.float32), None,
                   method='complete')  # noise None: z is the prior mean
  mean = np.asarray((mean + 1.0) / 2.0)
  np.testing.assert_allclose(out, mean, atol=1e-6)
  api.inpaint(params, image, mask, texture='network', num_samples=1)
  assert len(runner._EXECUTABLES) == 1  # one program for mean and samples


def test_bad_inputs_raise_value_error(params):
  image = image_of((16, 16, 3), np.float32)
  with pytest.raises(ValueError, match='mask'):
    api.inpaint(params, image, np.zeros((8, 16), bool))
  with pytest.raises(ValueError, match='image'):
    api.inpaint(params, image[..., :2], np.zeros((16, 16), bool))
  with pytest.raises(ValueError, match='image'):
    api.inpaint(params, (image * 100).astype(np.int32),
                      np.zeros((16, 16), bool))
  with pytest.raises(ValueError, match='num_samples'):
    api.inpaint(params, image, np.zeros((16, 16), bool), num_samples=0)


def test_bucket_ladder():
  for factor in (1, 4, 8):
    sizes = [inputs.bucket(n, factor) for n in range(1, 2049)]
    assert sizes == sorted(sizes)
    for n, b in enumerate(sizes, start=1):
      multiple = -(-n // factor) * factor
      assert b % factor == 0 and multiple <= b < 1.25 * multiple, (n, b)
    buckets = sorted(set(sizes))
    for lo in (64, 128, 256, 512, 1024):  # at most 4 sizes per octave
      assert len([b for b in buckets if lo < b <= 2 * lo]) <= 4
  assert [inputs.bucket(n, 8) for n in (1, 9, 33, 57, 65, 300, 437)] == [
      8, 16, 40, 64, 80, 320, 448]
  assert [inputs.bucket(n) for n in (1, 4, 5, 8, 9, 11, 17)] == [
      1, 4, 5, 8, 10, 12, 20]


def test_padding_reflects_image_and_mask():
  x = np.arange(2 * 5 * 6 * 1, dtype=np.float32).reshape(2, 5, 6, 1)
  p = runner.pad(x, (3, 8, 8))
  assert p.shape == (3, 8, 8, 1)
  np.testing.assert_array_equal(p[:2, :5, :6], x)
  np.testing.assert_array_equal(p[:2, 5:, :6], x[:, 3:0:-1])  # reflected
  np.testing.assert_array_equal(p[:2, :5, 6:], x[:, :, 4:2:-1])
  np.testing.assert_array_equal(p[2], p[1])
  # Too short to reflect: edge.
  np.testing.assert_array_equal(runner.pad(x[:, :1], (2, 4, 6))[:, 1:],
                                np.repeat(x[:, :1], 3, axis=1))


_BACKEND_COMPILES = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **_: _BACKEND_COMPILES.append(event) if event ==
    '/jax/core/compile/backend_compile_duration' else None)


@pytest.mark.heavy
def test_nearby_sizes_share_compiled_models(params, monkeypatch):
  """The model's compiled sizes (the patch search's have their own test in
  test_patch_synthesis.py)."""
  monkeypatch.setattr(runner, '_EXECUTABLES', collections.OrderedDict())
  rng = np.random.RandomState(0)
  # 12 sizes in [65, 97)^2: 8 x 8 multiples of 4 (downsampling factor 4)
  # but only 2 x 2 buckets (80, 96); batches 9 and 10 share bucket 10.
  sizes = [(int(rng.randint(65, 97)), int(rng.randint(65, 97)))
           for _ in range(12)]
  assert len(set(sizes)) == 12
  before = len(_BACKEND_COMPILES)
  seam_programs = _seam_programs()
  for i, (h, w) in enumerate(sizes):
    image = image_of((9 + i % 2, h, w, 3), np.uint8, seed=i)
    mask = np.zeros((h, w), bool)
    mask[h // 2:, w - 20:] = True  # touches the padded border
    out = api.inpaint(params, image, mask, texture='network')
    assert out.shape == image.shape and out.dtype == image.dtype
    np.testing.assert_array_equal(out[:, ~mask], image[:, ~mask])
    if i == 0:  # Hole pixels (and the padding that mirrors them) unused.
      other = np.where(mask[..., None], 255 - image, image)
      np.testing.assert_array_equal(
          api.inpaint(params, other, mask, texture='network'), out)
  shapes = set(key[1] for key in runner._EXECUTABLES)
  assert shapes <= {(10, hb, wb) for hb in (80, 96) for wb in (80, 96)}
  seam_programs = _seam_programs() - seam_programs
  assert seam_programs <= 2  # push-pull + relaxation, here 128 x 128
  assert len(_BACKEND_COMPILES) - before <= len(shapes) + seam_programs, (
      shapes)


def _seam_programs():
  """Programs of the seam correction compiled so far (its own sizes)."""
  return seams._compiled.cache_info().misses  # pylint: disable=protected-access


@pytest.mark.heavy
def test_twelve_megapixels_finish_or_fail_fast(params, monkeypatch):
  h, w = 3000, 4000
  y, x = np.mgrid[0:h, 0:w]
  image = (128 + 60 * np.sin(x / 150.0)[..., None]
           + 40 * np.cos(y / 90.0)[..., None]
           + np.zeros(3)).astype(np.uint8)
  mask = np.zeros((h, w), bool)
  mask[1000:1040, 2000:2060] = True      # small holes far apart
  mask[2500:2520, 300:350] = True
  mask[0:30, 3950:4000] = True           # on the border (a corner)
  t = time.perf_counter()
  out = api.inpaint(params, image, mask)
  assert time.perf_counter() - t < 240
  np.testing.assert_array_equal(out[~mask], image[~mask])
  err = np.abs(out[mask].astype(float) - image[mask].astype(float)).mean()
  assert err < 30  # a smooth photo: the fill is close to it
  # Too large for the free memory: a MemoryError before any model call.
  monkeypatch.setattr(api.inputs, 'available_bytes', lambda d: 2**28)
  monkeypatch.setattr(runner, '_executable', None)  # must not be reached
  t = time.perf_counter()
  with pytest.raises(MemoryError, match=r'3000x4000.*GiB.*free'):
    api.inpaint(params, image, mask)
  assert time.perf_counter() - t < 10

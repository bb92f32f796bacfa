"""inpaint() / load_params() on bad, odd and extreme inputs."""
import json
import os
import re

import jax
import numpy as np
import pytest

from tests.conftest import image_of, unzero_kernels
from vaegan_jax.configs import test as test_config
from vaegan_jax.inference import api
from vaegan_jax.inference import inputs
from vaegan_jax.inference import runner
from vaegan_jax.run import checkpoint
from vaegan_jax.run import config_file
from vaegan_jax.training import train_lib


@pytest.fixture(scope='module')
def state():
  config = test_config.get_config()
  return config, train_lib.create_train_state(config,
                                              jax.random.PRNGKey(0))[3]


@pytest.fixture(scope='module')
def params(state):
  config, st = state
  return api.InpaintParams(
      params=unzero_kernels({k: st.ema_params[k]
                             for k in ('prior', 'generator')}),
      model_config=config.model, step=0)


def _mask(h, w):
  m = np.zeros((h, w), bool)
  m[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = True
  return m


def _raises(match, fn, *args, **kwargs):
  with pytest.raises(ValueError, match=match) as info:
    fn(*args, **kwargs)
  return str(info.value)


def test_mismatched_sizes_name_both_shapes(params):
  msg = _raises('mask', api.inpaint, params, image_of((16, 16, 3)),
                np.zeros((8, 16), bool))
  assert '(8, 16)' in msg and '(16, 16, 3)' in msg and 'expected' in msg
  _raises('N = 2', api.inpaint, params, image_of((2, 16, 16, 3)),
          np.zeros((3, 16, 16), bool))
  msg = _raises('mask', api.inpaint, params, image_of((16, 16, 3)),
                np.zeros((16, 16, 3), bool))
  assert 'mask[..., 0]' in msg


@pytest.mark.parametrize('channels,hint', [(1, 'grayscale'), (2, 'alpha'),
                                           (4, 'RGBA')])
def test_channel_counts_other_than_3_are_rejected(params, channels, hint):
  msg = _raises('image', api.inpaint, params,
                image_of((16, 16, channels)), _mask(16, 16))
  assert hint in msg and f'{channels} channels' in msg and 'RGB' in msg
  msg = _raises('image', api.inpaint, params, image_of((16, 16)),
                _mask(16, 16))
  assert 'grayscale' in msg


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_image_is_rejected(params, bad):
  image = image_of((16, 16, 3))
  image[3, 4, 1] = bad
  msg = _raises('image', api.inpaint, params, image, _mask(16, 16))
  assert '1 NaN or inf' in msg


def test_float_outside_unit_range_is_rejected(params):
  msg = _raises(r'\[0, 1\]', api.inpaint, params,
                image_of((16, 16, 3)) * 255, _mask(16, 16))
  assert msg.startswith('image: float values in [0')
  _raises('image', api.inpaint, params, image_of((16, 16, 3)) - 0.5,
          _mask(16, 16))


@pytest.mark.parametrize('dtype', [np.int8, np.int16, np.int32, np.int64,
                                   np.uint16, np.uint32, bool, np.complex64])
def test_integer_types_other_than_uint8_are_rejected(params, dtype):
  image = (image_of((16, 16, 3)) * 200).astype(dtype)
  msg = _raises('image', api.inpaint, params, image, _mask(16, 16))
  assert str(np.dtype(dtype)) in msg and 'uint8' in msg


def test_mask_threshold_is_one_half(params):
  image = image_of((16, 16, 3), np.uint8)
  hard = _mask(16, 16)
  expected = api.inpaint(params, image, hard)
  soft = np.where(hard, 0.51, 0.49).astype(np.float32)
  np.testing.assert_array_equal(api.inpaint(params, image, soft),
                                expected)
  np.testing.assert_array_equal(
      api.inpaint(params, image, hard.astype(np.uint8) * 255), expected)
  np.testing.assert_array_equal(
      api.inpaint(params, image, hard.astype(np.int64)), expected)
  # Exactly 0.5 is not a hole.
  np.testing.assert_array_equal(
      api.inpaint(params, image, np.full((16, 16), 0.5)), image)
  nan_mask = hard.astype(np.float32)
  nan_mask[0, 0] = np.nan
  _raises('mask', api.inpaint, params, image, nan_mask)
  _raises('mask', api.inpaint, params, image,
          np.full((16, 16), 'x'))


def test_empty_mask_returns_input_without_running_the_model(params,
                                                            monkeypatch):
  def boom(*args, **kwargs):
    raise AssertionError('the model ran')
  monkeypatch.setattr(runner, '_executable', boom)
  for image in (image_of((9, 7, 3), np.uint8), image_of((2, 9, 7, 3)),
                image_of((9, 7, 3), np.float64)):
    out = api.inpaint(params, image, np.zeros((9, 7), bool))
    assert out.dtype == image.dtype and out is not image
    np.testing.assert_array_equal(out, image)
    out = api.inpaint(params, image, np.zeros((9, 7)), num_samples=3)
    assert out.shape == (3,) + image.shape
    np.testing.assert_array_equal(out[2], image)


@pytest.mark.heavy
def test_full_mask_generates_every_pixel(params):
  for dtype in (np.uint8, np.float32):
    image = image_of((2, 13, 10, 3), dtype)
    out = api.inpaint(params, image, np.ones((13, 10), bool))
    assert out.shape == image.shape and out.dtype == image.dtype
    if dtype == np.float32:
      assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    samples = api.inpaint(params, image[0], np.ones((13, 10)),
                                num_samples=2, rng=jax.random.PRNGKey(3))
    assert samples.shape == (2, 13, 10, 3)
    assert not np.array_equal(samples[0], samples[1])


@pytest.mark.heavy
@pytest.mark.parametrize('h,w', [(1, 1), (1, 5), (3, 2), (2, 9)])
def test_images_smaller_than_the_pad_multiple(params, h, w):
  assert params.pad_multiple == 4
  image = image_of((h, w, 3))
  mask = np.ones((h, w), bool)
  mask[0, 0] = False
  out = api.inpaint(params, image, mask)
  assert out.shape == image.shape and np.isfinite(out).all()
  assert out[0, 0].tolist() == image[0, 0].tolist()
  _raises('empty', api.inpaint, params, image_of((0, 5, 3)),
          np.ones((0, 5), bool))


def test_batch_of_zero(params):
  image = np.zeros((0, 12, 12, 3), np.uint8)
  out = api.inpaint(params, image, np.ones((12, 12), bool))
  assert out.shape == (0, 12, 12, 3) and out.dtype == np.uint8
  out = api.inpaint(params, image, np.ones((0, 12, 12, 1)),
                          num_samples=2)
  assert out.shape == (2, 0, 12, 12, 3)


@pytest.mark.parametrize('bad', [0, -1, 1.5, True, '2'])
def test_bad_num_samples(params, bad):
  _raises('num_samples', api.inpaint, params, image_of((8, 8, 3)),
          _mask(8, 8), num_samples=bad)


@pytest.mark.heavy
def test_large_image_works_and_too_large_fails_fast(params, monkeypatch):
  image = image_of((1, 300, 500, 3), np.uint8)
  mask = np.zeros((300, 500), bool)
  mask[100:200, 50:450] = True
  out = api.inpaint(params, image, mask)
  np.testing.assert_array_equal(out[:, ~mask], image[:, ~mask])
  # 10^10 pixels: a broadcast view, so the test itself needs no memory.
  huge = np.broadcast_to(np.uint8(7), (100_000, 100_000, 3))
  with pytest.raises(MemoryError, match=r'GiB.*free.*downscale'):
    api.inpaint(params, huge, np.broadcast_to(True, huge.shape[:2]))
  monkeypatch.setattr(inputs, 'available_bytes', lambda d: 2**20)
  with pytest.raises(MemoryError, match='1 image'):
    api.inpaint(params, image_of((64, 80, 3)), _mask(64, 80))


def _write_workdir(path, config, st, *, steps=(2,)):
  config_file.write(str(path), config)
  manager = checkpoint.create_manager(str(path))
  for step in steps:
    checkpoint.save(manager, st.replace(step=np.asarray(step, np.int32)))
  return str(path)


def test_load_params_bad_directories(tmp_path, state):
  config, st = state
  with pytest.raises(FileNotFoundError, match='does not exist'):
    api.load_params(str(tmp_path / 'missing'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(FileNotFoundError, match=re.escape(
      f"workdir='{tmp_path / 'empty'}' has no config.json")):
    api.load_params(str(tmp_path / 'empty'))
  # config.json but no checkpoint.
  config_file.write(str(tmp_path / 'no_ckpt'), config)
  with pytest.raises(FileNotFoundError, match='checkpoint'):
    api.load_params(str(tmp_path / 'no_ckpt'))

  good = _write_workdir(tmp_path / 'good', config, st)
  assert api.load_params(good).step == 2
  with pytest.raises(FileNotFoundError, match=r'step 7.*\[2\]'):
    api.load_params(good, step=7)
  config_path = os.path.join(good, config_file.NAME)
  with open(config_path) as f:
    payload = json.load(f)

  def write(p):
    with open(config_path, 'w') as f:
      json.dump(p, f)

  write(dict(payload, format_version=0))
  _raises('format 0', api.load_params, good)
  model = payload['config']['model']
  gen = model['inpainter']
  write(dict(payload, config={**payload['config'], 'model': dict(
      model, **{gen: dict(model[gen], base_channels=12)})}))
  msg = _raises('incompatible version', api.load_params, good)
  assert 'shape' in msg and 'generator' in msg
  sub = dict(model[gen])
  del sub['num_down']
  write(dict(payload, config={**payload['config'], 'model': dict(
      model, **{gen: sub})}))
  _raises('incompatible version', api.load_params, good)
  with open(config_path, 'w') as f:
    f.write('{"format_version": 1, "conf')
  _raises('not valid JSON', api.load_params, good)

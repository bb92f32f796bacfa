"""Property-based tests (hypothesis) over inpaint()'s input space."""
import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vaegan_jax.configs import test as test_config
from vaegan_jax.inference import api
from vaegan_jax.inference import inputs
from vaegan_jax.run import image_io
from vaegan_jax.training import train_lib

# Derandomized: CI sees the same examples on every run; no example database
# is written into the repository.
_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])
_FLOAT_BITS = {np.float16: 16, np.float32: 32, np.float64: 64}


@pytest.fixture(scope='module')
def params():
  config = test_config.get_config()
  state = train_lib.create_train_state(config, jax.random.PRNGKey(0))[3]
  return api.InpaintParams(
      params={k: state.ema_params[k] for k in ('prior', 'generator')},
      model_config=config.model, step=0)


@st.composite
def _inputs(draw):
  """A valid (image, mask, hole [N?, H, W]) triple of any supported form."""
  batch = draw(st.sampled_from([None, 0, 1, 2]))
  # H, W <= 8 pad to 4 or 8: few shapes to compile, all edge cases kept.
  h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
  lead = () if batch is None else (batch,)
  dtype = draw(st.sampled_from([np.uint8, np.float16, np.float32,
                                np.float64]))
  elements = (st.integers(0, 255) if dtype == np.uint8 else
              st.floats(0, 1, width=_FLOAT_BITS[dtype]))
  image = draw(hnp.arrays(dtype, lead + (h, w, 3), elements=elements))
  per_example = batch is not None and draw(st.booleans())
  mask_lead = lead if per_example else ()
  kind = draw(st.sampled_from(['bool', 'uint8', 'soft']))
  if kind == 'bool':
    mask = draw(hnp.arrays(bool, mask_lead + (h, w)))
    hole = mask
  elif kind == 'uint8':
    mask = draw(hnp.arrays(np.uint8, mask_lead + (h, w),
                           elements=st.sampled_from([0, 1, 255])))
    # Labels 0/1 unless 255 occurs; then white is the hole (half of 255).
    hole = mask > (127.5 if mask.max(initial=0) > 1 else 0.5)
  else:
    mask = draw(hnp.arrays(np.float32, mask_lead + (h, w),
                           elements=st.floats(0, 1, width=32)))
    hole = mask > 0.5
  if draw(st.booleans()):
    mask = mask[..., None]
  return image, mask, np.broadcast_to(hole, lead + (h, w))


@pytest.mark.heavy
@settings(max_examples=80, **_SETTINGS)
@given(inputs=_inputs(), num_samples=st.sampled_from([None, 2]))
def test_output_keeps_known_pixels_shape_dtype_and_range(params, inputs,
                                                         num_samples):
  image, mask, hole = inputs
  out = api.inpaint(params, image, mask, num_samples=num_samples,
                          rng=None if num_samples is None else
                          jax.random.PRNGKey(0))
  outs = [out] if num_samples is None else list(out)
  assert num_samples is None or out.shape[0] == num_samples
  for o in outs:
    assert o.shape == image.shape and o.dtype == image.dtype
    np.testing.assert_array_equal(o[~hole], image[~hole])
    if image.dtype != np.uint8:
      assert np.isfinite(o).all() and o.min(initial=0) >= 0
      assert o.max(initial=0) <= 1
    if not hole.any():
      np.testing.assert_array_equal(o, image)


def _corrupt(draw, image, mask):
  """One way of breaking a valid input; returns (image, mask, argument)."""
  how = draw(st.sampled_from(['channels', 'gray2d', 'int_dtype', 'nan',
                              'range', 'mask_size', 'mask_nan',
                              'mask_batch', 'empty']))
  if how == 'channels':
    c = draw(st.sampled_from([1, 2, 4, 5]))
    return np.repeat(image[..., :1], c, -1), mask, 'image'
  if how == 'gray2d':  # [N, H, W] would read as an RGB image when W == 3.
    return image.reshape((-1,) + image.shape[-3:])[0, ..., 0], mask, 'image'
  if how == 'int_dtype':
    dtype = draw(st.sampled_from([np.int8, np.int32, np.uint16, np.int64,
                                  bool]))
    return image.astype(dtype), mask, 'image'
  if how == 'nan':
    image = image.astype(np.float32)
    image[..., 0, 0, draw(st.integers(0, 2))] = draw(
        st.sampled_from([np.nan, np.inf, -np.inf]))
    return image, mask, 'image'
  if how == 'range':
    scale = draw(st.sampled_from([-1.0, 255.0, 1.5]))
    return np.full(image.shape, scale, np.float32), mask, 'image'
  if how == 'mask_size':
    return image, np.zeros(mask.shape[:-1] + (mask.shape[-1] + 1,)), 'mask'
  if how == 'mask_nan':
    mask = mask.astype(np.float32)
    mask[..., 0, 0] = np.nan
    return image, mask, 'mask'
  if how == 'mask_batch':
    return image, np.zeros((3,) + mask.shape), 'mask'
  return image[..., :0, :, :], mask[..., :0, :], 'image'


@settings(max_examples=60, **_SETTINGS)
@given(data=st.data())
def test_broken_inputs_raise_value_error_naming_the_argument(params, data):
  h, w = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
  lead = data.draw(st.sampled_from([(), (2,)]))
  image = np.full(lead + (h, w, 3), 0.5, np.float32)
  mask = np.ones((h, w), bool)
  image, mask, argument = _corrupt(data.draw, image, mask)
  with pytest.raises(ValueError) as info:
    api.inpaint(params, image, mask)
  assert str(info.value).startswith(f'{argument}:'), str(info.value)
  assert 'expected' in str(info.value)


def test_image_folder_of_any_mode_read_as_rgb(tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rgb = np.random.RandomState(0).randint(0, 256, (6, 5, 3)).astype(np.uint8)
  Image.fromarray(rgb).convert('L').save(tmp_path / 'gray.png')
  Image.fromarray(rgb).convert('RGBA').save(tmp_path / 'rgba.png')
  Image.fromarray(rgb).convert('LA').save(tmp_path / 'la.png')
  Image.fromarray(rgb).convert('P').save(tmp_path / 'palette.png')
  deep = np.linspace(0, 65535, 30).astype(np.uint16).reshape(6, 5)
  Image.fromarray(deep).save(tmp_path / 'deep16.png')
  gray = np.asarray(Image.fromarray(rgb).convert('L'))
  for name in ('gray', 'rgba', 'la', 'palette', 'deep16'):
    out = image_io.read_image(str(tmp_path / f'{name}.png'))
    assert out.shape == (6, 5, 3) and out.dtype == np.uint8, name
  np.testing.assert_array_equal(image_io.read_image(str(tmp_path / 'rgba.png')),
                                rgb)
  np.testing.assert_array_equal(
      image_io.read_image(str(tmp_path / 'gray.png'))[..., 1], gray)
  np.testing.assert_array_equal(
      image_io.read_image(str(tmp_path / 'deep16.png'))[..., 2],
      np.round(deep / 257).astype(np.uint8))
  np.testing.assert_array_equal(
      inputs.holes(image_io.read_mask(str(tmp_path / 'deep16.png'))),
      deep > 127 * 257 + 128)

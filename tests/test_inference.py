"""inpaint(): exact known pixels, any size, dtypes, batching, sampling."""
import jax
import numpy as np
import pytest

from configs import test as test_config
from vaegan_jax import inference
from vaegan_jax import train_lib


@pytest.fixture(scope='module')
def params():
  config = test_config.get_config()
  _, _, _, state = train_lib.create_train_state(config, jax.random.PRNGKey(0))
  return inference.InpaintParams(
      params={k: state.ema_params[k] for k in ('prior', 'generator')},
      model_config=config.model, step=0)


def _image(shape, dtype, seed=0):
  rng = np.random.RandomState(seed)
  if dtype == np.uint8:
    return rng.randint(0, 256, shape).astype(np.uint8)
  return rng.rand(*shape).astype(dtype)


def _mask(h, w):
  m = np.zeros((h, w), bool)
  m[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = True
  return m


@pytest.mark.parametrize('dtype', [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize('h,w', [(16, 16), (13, 21), (5, 7)])
def test_known_pixels_exact_any_size(params, dtype, h, w):
  image = _image((h, w, 3), dtype)
  mask = _mask(h, w)
  out = inference.inpaint(params, image, mask)
  assert out.shape == image.shape and out.dtype == image.dtype
  np.testing.assert_array_equal(out[~mask], image[~mask])
  assert not np.array_equal(out[mask], image[mask])
  if dtype != np.uint8:
    assert out.min() >= 0 and out.max() <= 1


def test_batched_and_mask_forms(params):
  images = _image((3, 12, 20, 3), np.float32)
  mask = _mask(12, 20)
  a = inference.inpaint(params, images, mask)
  b = inference.inpaint(params, images, mask[..., None].astype(np.uint8))
  c = inference.inpaint(params, images, np.stack([mask] * 3)[..., None])
  assert a.shape == images.shape
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a, c)
  single = inference.inpaint(params, images[1], mask.astype(np.float32))
  np.testing.assert_allclose(single, a[1], atol=1e-6)


def test_num_samples_are_diverse(params):
  image = _image((16, 16, 3), np.uint8)
  mask = _mask(16, 16)
  out = inference.inpaint(params, image, mask, num_samples=3,
                          rng=jax.random.PRNGKey(1))
  assert out.shape == (3, 16, 16, 3) and out.dtype == np.uint8
  for k in range(3):
    np.testing.assert_array_equal(out[k][~mask], image[~mask])
  assert not np.array_equal(out[0][mask], out[1][mask])
  again = inference.inpaint(params, image, mask, num_samples=3,
                            rng=jax.random.PRNGKey(1))
  np.testing.assert_array_equal(out, again)
  batched = inference.inpaint(params, np.stack([image] * 2), mask,
                              num_samples=2)
  assert batched.shape == (2, 2, 16, 16, 3)


def test_bad_inputs_raise_value_error(params):
  image = _image((16, 16, 3), np.float32)
  with pytest.raises(ValueError, match='mask'):
    inference.inpaint(params, image, np.zeros((8, 16), bool))
  with pytest.raises(ValueError, match='image'):
    inference.inpaint(params, image[..., :2], np.zeros((16, 16), bool))
  with pytest.raises(ValueError, match='image'):
    inference.inpaint(params, (image * 100).astype(np.int32),
                      np.zeros((16, 16), bool))
  with pytest.raises(ValueError, match='num_samples'):
    inference.inpaint(params, image, np.zeros((16, 16), bool), num_samples=0)

"""Classical baselines: composited, known pixels exact, sensible fills."""
import numpy as np
import pytest

from vaegan_jax import baselines


def _data():
  y, x = np.mgrid[:24, :24] / 23.0
  image = np.stack([x, y, (x + y) / 2], -1)[None].astype(np.float32)
  mask = np.zeros((1, 24, 24, 1), np.float32)
  mask[:, 8:16, 8:16] = 1
  return image, mask


@pytest.mark.parametrize('method', baselines.METHODS)
def test_methods_fill_only_the_hole(method):
  image, mask = _data()
  out = baselines.inpaint_classical(method, image, mask)
  assert out.shape == image.shape and out.dtype == np.float32
  hole = mask[..., 0] > 0
  np.testing.assert_array_equal(out[~hole], image[~hole])
  err = np.abs(out - image)[hole].mean()
  # A smooth ramp: every method but the mean fill is close to it.
  assert err < (0.2 if method == 'mean' else 0.05), err


def test_parse_methods():
  assert baselines.parse_methods('all') == baselines.METHODS
  assert baselines.parse_methods('none') == ()
  assert baselines.parse_methods('telea, mean') == ('telea', 'mean')
  with pytest.raises(ValueError, match='unknown'):
    baselines.parse_methods('telea,magic')
  with pytest.raises(ValueError, match='method'):
    baselines.inpaint_classical('magic', *_data())

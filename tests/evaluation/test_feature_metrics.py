"""feature_metrics: FID, KID, P-IDS/U-IDS against their reference code.

The reference values in tests/fixtures/metric_reference.npz come from
pytorch-fid's `calculate_frechet_distance`, torch-fidelity's KID and
CoModGAN's IDS snippet, on the same random features.
"""

import numpy as np
import pytest

from vaegan_jax.evaluation import feature_metrics




def test_fid_is_pytorch_fids(metric_reference):
  got = feature_metrics.fid(metric_reference['formula_real'], metric_reference['formula_fake'])
  np.testing.assert_allclose(got, metric_reference['fid'], rtol=1e-6)


def test_fid_of_singular_covariances_is_pytorch_fids():
  """Fewer images than features: pytorch-fid's sqrtm, computed here."""
  from scipy import linalg  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(20, 64)), 1.2 * rng.normal(size=(20, 64)) + 0.1
  s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  covmean = linalg.sqrtm(s1.dot(s2)).real
  diff = a.mean(0) - b.mean(0)
  want = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
  np.testing.assert_allclose(feature_metrics.fid(a, b), want, rtol=1e-6)


def test_small_sets_take_the_low_rank_path_to_the_same_fid():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=(12, 300)), 0.8 * rng.normal(size=(9, 300)) - 0.2
  sa, sb = feature_metrics.statistics(a), feature_metrics.statistics(b)
  want = feature_metrics.frechet_distance(sa['mu'], sa['sigma'], sb['mu'],
                                          sb['sigma'])
  np.testing.assert_allclose(feature_metrics.fid(a, b), want, rtol=1e-7)
  assert feature_metrics.fid(a, a) == pytest.approx(0.0, abs=1e-9)
  with pytest.raises(ValueError, match='>= 2 feature rows'):
    feature_metrics.fid(a[:1], b)


def test_kid_is_torch_fidelitys(metric_reference):
  got = feature_metrics.kid(metric_reference['formula_real'], metric_reference['formula_fake'],
                            subsets=10, subset_size=100)
  np.testing.assert_allclose(got['kid_mean'], metric_reference['kid_mean'], rtol=1e-9)
  np.testing.assert_allclose(got['kid_std'], metric_reference['kid_std'], rtol=1e-9)


def test_ids_is_comodgans(metric_reference):
  got = feature_metrics.ids(metric_reference['formula_real'], metric_reference['formula_fake'])
  assert got['p_ids'] == pytest.approx(float(metric_reference['p_ids']))
  assert got['u_ids'] == pytest.approx(float(metric_reference['u_ids']))


def test_scores_order_near_and_far_sets():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(400, 16))
  same = rng.normal(size=(400, 16))
  far = rng.normal(size=(400, 16)) * 1.5 + 0.5
  assert feature_metrics.fid(real, real) == pytest.approx(0.0, abs=1e-6)
  assert feature_metrics.fid(real, same) < feature_metrics.fid(real, far)
  near_kid = feature_metrics.kid(real, same, subsets=5, subset_size=200)
  far_kid = feature_metrics.kid(real, far, subsets=5, subset_size=200)
  assert abs(near_kid['kid_mean']) < far_kid['kid_mean']
  # A separable fake is found: U-IDS ~ 0; an indistinguishable one is not.
  assert feature_metrics.ids(real, far + 3.0)['u_ids'] < 0.01
  assert feature_metrics.ids(real, same)['u_ids'] > 0.3


def test_bad_input():
  with pytest.raises(ValueError, match='>= 2'):
    feature_metrics.fid(np.zeros((1, 4)), np.zeros((1, 4)))
  with pytest.raises(ValueError, match='different sizes'):
    feature_metrics.fid(np.ones((3, 4)), np.ones((3, 5)))
  with pytest.raises(ValueError, match='pairs'):
    feature_metrics.ids(np.ones((3, 4)), np.ones((4, 4)))

"""FID, KID and P-IDS / U-IDS from Inception pool features [N, 2048].

Each follows its reference code, so numbers are comparable with the
published tables:
- FID: pytorch-fid's `calculate_frechet_distance` (the trace of the
  matrix square root by symmetric eigendecompositions; see
  `frechet_distance`);
- KID: torch-fidelity's unbiased MMD^2 with the cubic polynomial kernel
  (x.y / d + 1)**3, averaged over random subsets (numpy's RandomState);
- P-IDS / U-IDS: CoModGAN's: a linear SVM (scikit-learn's LinearSVC,
  dual=False) separates real from fake features; U-IDS is its error rate
  on them, P-IDS the fraction of pairs (real i, fake i) in which the fake
  scores as more real.  Real and fake i must be the same photo.
Features come from `inception.features`; FID depends on the sample count
(it is biased), so tables quote it with N.
"""
from typing import Dict

import numpy as np
from scipy import linalg


def statistics(features) -> Dict[str, np.ndarray]:
  """{'mu': [D], 'sigma': [D, D]} as pytorch-fid (float64, np.cov)."""
  f = np.asarray(features, np.float64)
  if f.ndim != 2 or len(f) < 2:
    raise ValueError(f'FID needs >= 2 feature rows [N, D]; got {f.shape}')
  return {'mu': np.mean(f, axis=0), 'sigma': np.cov(f, rowvar=False)}


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)).

  pytorch-fid takes sqrtm(S1 S2) (a Schur decomposition: about a minute
  for 2048 x 2048 here).  For covariances (symmetric, PSD)
  Tr sqrt(S1 S2) = Tr sqrt(R S2 R) with R = sqrt(S1), whose eigenvalues
  come from two symmetric eigendecompositions (~7x faster); it agrees
  with pytorch-fid to 1e-6 relative, singular covariances included
  (tests/evaluation/test_feature_metrics.py).
  """
  mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
  sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
    raise ValueError('FID: the two sets have features of different sizes')
  diff = mu1 - mu2
  w, v = linalg.eigh(sigma1)
  root = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
  inner = linalg.eigvalsh(root @ sigma2 @ root)
  tr_covmean = np.sum(np.sqrt(np.maximum(inner, 0.0)))
  return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2)
               - 2 * tr_covmean)


def fid(real_features, fake_features) -> float:
  """FID of two feature sets [N, D] (pytorch-fid's value).

  With fewer images than features (a small eval set), each covariance is
  S = A A^T with A [D, N] the centred features / sqrt(N - 1), and the
  nonzero eigenvalues of S1 S2 are the squared singular values of
  A1^T A2 [N1, N2]; so Tr sqrt(S1 S2) is that small matrix's nuclear norm,
  exactly, without the two D x D eigendecompositions (~1.7 s at D = 2048).
  """
  a, b = np.asarray(real_features), np.asarray(fake_features)
  if a.ndim == b.ndim == 2 and a.shape[1] == b.shape[1] and max(
      len(a), len(b)) < a.shape[1]:
    return _low_rank_fid(a, b)
  a, b = statistics(real_features), statistics(fake_features)
  return frechet_distance(a['mu'], a['sigma'], b['mu'], b['sigma'])


def _low_rank_fid(real, fake) -> float:
  def centred(f):
    f = np.asarray(f, np.float64)
    if len(f) < 2:
      raise ValueError(f'FID needs >= 2 feature rows [N, D]; got {f.shape}')
    mu = f.mean(axis=0)
    return mu, (f - mu) / np.sqrt(len(f) - 1)
  (mu1, a1), (mu2, a2) = centred(real), centred(fake)
  diff = mu1 - mu2
  tr_covmean = np.sum(linalg.svdvals(a1 @ a2.T))
  return float(diff.dot(diff) + np.sum(a1 * a1) + np.sum(a2 * a2)
               - 2 * tr_covmean)


def kid(real_features, fake_features, *, subsets: int = 100,
        subset_size: int = 1000, seed: int = 12345) -> Dict[str, float]:
  """{'kid_mean', 'kid_std'}: MMD^2 over `subsets` random subsets."""
  f1 = np.asarray(fake_features, np.float64)
  f2 = np.asarray(real_features, np.float64)
  m = min(len(f1), len(f2), subset_size)
  if m < 2:
    raise ValueError('KID needs >= 2 images in each set')
  d = f1.shape[1]
  rng = np.random.RandomState(seed)
  values = []
  for _ in range(subsets):  # fake first: torch-fidelity's draw order
    x = f1[rng.choice(len(f1), m, replace=False)]
    y = f2[rng.choice(len(f2), m, replace=False)]
    a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    b = (x @ y.T / d + 1) ** 3
    values.append(((a.sum() - np.diag(a).sum()) / (m - 1)
                   - b.sum() * 2 / m) / m)
  return {'kid_mean': float(np.mean(values)), 'kid_std': float(np.std(values))}


def ids(real_features, fake_features) -> Dict[str, float]:
  """{'p_ids', 'u_ids'} (CoModGAN); real i and fake i are one photo."""
  from sklearn import svm  # pylint: disable=g-import-not-at-top
  real = np.asarray(real_features, np.float64)
  fake = np.asarray(fake_features, np.float64)
  if real.shape != fake.shape:
    raise ValueError('P-IDS pairs real and fake images: the sets must '
                     f'match; got {real.shape} and {fake.shape}')
  classifier = svm.LinearSVC(dual=False)
  inputs = np.concatenate([real, fake])
  targets = np.array([1] * len(real) + [0] * len(fake))
  classifier.fit(inputs, targets)
  u_ids = 1 - classifier.score(inputs, targets)
  p_ids = np.mean(classifier.decision_function(fake)
                  > classifier.decision_function(real))
  return {'p_ids': float(p_ids), 'u_ids': float(u_ids)}

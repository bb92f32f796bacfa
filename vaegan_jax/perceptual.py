"""The published tables' metrics for eval.py: FID, KID, LPIPS, P-IDS/U-IDS.

They need weights this project cannot download (README, "Evaluation
metrics"): `load` takes the files the user gives.  `score` adds, per
method and hole-ratio bucket:
- fid, kid, kid_std: between the outputs and the truths (Inception pool
  features of the whole images, 8-bit quantised as saved PNGs would be);
- p_ids, u_ids: CoModGAN's, pairing each output with its own truth;
- lpips: mean LPIPS between each output and its truth.
FID is biased by the sample count: compare numbers only at equal N.
"""
from typing import Dict, NamedTuple, Optional, Sequence

import jax.numpy as jnp
import numpy as np

from vaegan_jax import feature_metrics
from vaegan_jax import inception
from vaegan_jax import lpips

BATCH = 16  # images per Inception / LPIPS call
# FID, KID and the SVM need two images or more; smaller buckets give nan.
MIN_IMAGES = 2


class Scorers(NamedTuple):
  inception: Optional[dict] = None
  lpips: Optional[dict] = None
  lpips_net: str = ''


def load(fid_weights: Optional[str] = None,
         lpips_weights: Optional[str] = None) -> Scorers:
  """Scorers from the given files (either may be None)."""
  fid_params = inception.load_weights(fid_weights) if fid_weights else None
  lp, net = (lpips.load_weights(lpips_weights) if lpips_weights
             else (None, ''))
  return Scorers(fid_params, lp, net)


def _batches(images: Sequence[np.ndarray]):
  """Runs of images of one shape (crops: the whole set; photos: one)."""
  i = 0
  while i < len(images):
    j = i + 1
    while (j < len(images) and j - i < BATCH
           and np.shape(images[j]) == np.shape(images[i])):
      j += 1
    yield i, np.stack(images[i:j])
    i = j


def features(params, images) -> np.ndarray:
  """Inception pool features [N, 2048] of images in [0, 1] (any sizes)."""
  out = [np.asarray(inception.features(params, jnp.asarray(
      inception.quantize(batch)))) for _, batch in _batches(list(images))]
  return np.concatenate(out) if out else np.zeros((0, inception.FEATURES))


def lpips_distances(params, net: str, outputs, truths) -> np.ndarray:
  """LPIPS [N] between each output and its truth (images in [0, 1])."""
  outputs, truths = list(outputs), list(truths)
  out = []
  for i, batch in _batches(outputs):
    truth = np.stack(truths[i:i + len(batch)])
    out.append(np.asarray(lpips.distance_jit(
        params, net, jnp.asarray(inception.quantize(batch)),
        jnp.asarray(inception.quantize(truth)))))
  return np.concatenate(out) if out else np.zeros((0,))


def _set_scores(real, fake) -> Dict[str, float]:
  n = len(real)
  if n < MIN_IMAGES:
    return {k: float('nan') for k in ('fid', 'kid', 'kid_std', 'p_ids',
                                      'u_ids')}
  kid = feature_metrics.kid(real, fake, subset_size=min(n, 1000))
  out = {'fid': feature_metrics.fid(real, fake), 'kid': kid['kid_mean'], 'kid_std': kid['kid_std']}
  out.update(feature_metrics.ids(real, fake))
  return out


def score(scorers: Scorers, outputs: Dict[str, Sequence[np.ndarray]],
          truth: Sequence[np.ndarray], groups: Dict[str, np.ndarray], *,
          truth_features: Optional[np.ndarray] = None
          ) -> Dict[str, Dict[str, Dict]]:
  """{method: {bucket: {fid, kid, kid_std, p_ids, u_ids, lpips}}}.

  outputs: {method: images}; truth: the originals; groups: {bucket:
  indices}; truth_features: `features` of truth, if already computed.
  Metrics whose weights were not given are left out.
  """
  real = None
  if scorers.inception is not None:
    real = (truth_features if truth_features is not None
            else features(scorers.inception, truth))
  result = {}
  for method, out in outputs.items():
    fake = (features(scorers.inception, out) if real is not None else None)
    dist = (lpips_distances(scorers.lpips, scorers.lpips_net, out, truth)
            if scorers.lpips is not None else None)
    result[method] = {}
    for bucket, idx in groups.items():
      idx = np.asarray(idx, int)
      s = {}
      if real is not None:
        s.update(_set_scores(real[idx], fake[idx]))
      if dist is not None:
        s['lpips'] = float(np.mean(dist[idx])) if len(idx) else float('nan')
      result[method][bucket] = s
  return result

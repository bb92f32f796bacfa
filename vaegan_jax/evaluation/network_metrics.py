"""The published tables' metrics for eval.py: FID, KID, LPIPS, P-IDS/U-IDS.

LPIPS is always available: `load` uses the shipped LPIPS-alex weights
unless given other files.  FID's Inception weights cannot ship (README,
"Evaluation metrics"): `load` takes the file the user gives.  `score`
adds, per method and hole-ratio bucket:
- fid, kid, kid_std: between the outputs and the truths (Inception pool
  features of the whole images, 8-bit quantised as saved PNGs would be);
- p_ids, u_ids: CoModGAN's, pairing each output with its own truth;
- lpips: mean LPIPS between each output and its truth, on the whole image
  for crops (as LaMa scores them) and on the hole's box plus CONTEXT px for
  whole photos, where the untouched rest of a large photo would otherwise
  pull every method towards 0.  Images below `lpips.min_side` give nan.
FID is biased by the sample count: compare numbers only at equal N.
"""
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import jax.numpy as jnp
import numpy as np

from vaegan_jax.evaluation import feature_metrics
from vaegan_jax.evaluation import inception
from vaegan_jax.evaluation import lpips

BATCH = 16  # images per Inception / LPIPS call
# FID, KID and the SVM need two images or more; smaller buckets give nan.
MIN_IMAGES = 2
CONTEXT = 32  # px of context around a photo's hole for LPIPS
OFF = 'none'  # lpips_weights value that turns LPIPS off


class Scorers(NamedTuple):
  inception: Optional[dict] = None
  lpips: Optional[dict] = None
  lpips_net: str = ''


def load(fid_weights: Optional[str] = None,
         lpips_weights: Optional[str] = None) -> Scorers:
  """Scorers from the given files.

  fid_weights: None: no FID, KID, P-IDS / U-IDS.
  lpips_weights: None: the shipped LPIPS-alex (lpips.DEFAULT_WEIGHTS);
    OFF: no LPIPS.
  """
  fid_params = inception.load_weights(fid_weights) if fid_weights else None
  lp, net = ((None, '') if lpips_weights == OFF
             else lpips.load_weights(lpips_weights))
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


def hole_box(mask, context: int = CONTEXT) -> Tuple[slice, slice]:
  """The bounding box of mask's hole [H, W(, 1)] plus `context` px on each
  side, clipped to the image; the whole image if there is no hole."""
  hole = np.asarray(mask).reshape(np.shape(mask)[:2]) > 0.5
  if not hole.any():
    return slice(None), slice(None)
  ys, xs = np.nonzero(hole)
  return (slice(max(ys.min() - context, 0), ys.max() + 1 + context),
          slice(max(xs.min() - context, 0), xs.max() + 1 + context))


def lpips_distances(params, net: str, outputs, truths,
                    masks=None) -> np.ndarray:
  """LPIPS [N] between each output and its truth (images in [0, 1]).

  masks: given, each pair is cropped to `hole_box` first.  Images below
  `lpips.min_side(net)` px give nan.
  """
  outputs, truths = list(outputs), list(truths)
  if masks is not None:
    boxes = [hole_box(m) for m in masks]
    outputs = [o[b] for o, b in zip(outputs, boxes)]
    truths = [t[b] for t, b in zip(truths, boxes)]
  out = np.full(len(outputs), np.nan)
  keep = [i for i, o in enumerate(outputs)
          if min(np.shape(o)[:2]) >= lpips.min_side(net)]
  for i, batch in _batches([outputs[k] for k in keep]):
    idx = keep[i:i + len(batch)]
    truth = np.stack([truths[k] for k in idx])
    out[idx] = np.asarray(lpips.distance_jit(
        params, net, jnp.asarray(inception.quantize(batch)),
        jnp.asarray(inception.quantize(truth))))
  return out


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
          truth_features: Optional[np.ndarray] = None, masks=None
          ) -> Dict[str, Dict[str, Dict]]:
  """{method: {bucket: {fid, kid, kid_std, p_ids, u_ids, lpips}}}.

  outputs: {method: images}; truth: the originals; groups: {bucket:
  indices}; truth_features: `features` of truth, if already computed;
  masks: for whole photos, the holes: LPIPS is taken on `hole_box`.
  Metrics whose weights were not loaded are left out.
  """
  real = None
  if scorers.inception is not None:
    real = (truth_features if truth_features is not None
            else features(scorers.inception, truth))
  result = {}
  for method, out in outputs.items():
    fake = (features(scorers.inception, out) if real is not None else None)
    dist = (lpips_distances(scorers.lpips, scorers.lpips_net, out, truth,
                            masks) if scorers.lpips is not None else None)
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

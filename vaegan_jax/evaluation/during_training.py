"""The evaluator that training runs every config.eval_every steps.

A fixed held-out set at the training size (data.eval_sets.load_eval_data:
the embedded held-out photos, the first images of a TFDS evaluation split,
or the images a folder run sets aside), one mask per view, the first
`num_images` of it, the same every time.  The EMA generator's prior-mean
fill is computed by a pmapped call on the training devices, from the
replicated weights the loop already holds (no second copy on the host);
the scores are the hole L1, PSNR, LPIPS (the shipped LPIPS-alex weights)
and the hole-patch SWD of evaluation/metrics.py, as eval.py reports them
(LPIPS on images upsampled to its smallest input, 31 px, below that).

  ev = during_training.DuringTraining(config)
  result = ev.run(replicated_params)   # or InpaintParams, as eval.py's
  print(ev.report(result)); ev.write(result, out_dir)
"""
import json
import time
from typing import Dict, List, Sequence

import flax
import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import common
from vaegan_jax.evaluation import lpips
from vaegan_jax.evaluation import metrics
from vaegan_jax.evaluation import network_metrics
from vaegan_jax import models

# What the scalars are called in TensorBoard and the progress line.
SCORES = ('hole_l1', 'psnr', 'lpips', 'swd')
# Lower is better for these, higher for the rest.
LOWER_IS_BETTER = ('hole_l1', 'lpips', 'swd')


def best_mode(metric: str) -> str:
  """'min' or 'max': how the best checkpoint compares `metric`."""
  if metric not in SCORES:
    raise ValueError(f'eval.best_metric={metric!r} is not one of {SCORES}.')
  return 'min' if metric in LOWER_IS_BETTER else 'max'


class DuringTraining(common.Evaluator):
  """The held-out set at the training size, scored on the devices."""
  tag = 'during_training'

  def __init__(self, config, *, num_images: int = 64):
    data = eval_sets.load_eval_data(config, num_masks_per_image=1)
    n = min(num_images, len(data['image']))
    self.images = data['image'][:n]
    self.masks = data['mask'][:n]
    self.names = data['name'][:n]
    self._inpainter = models.create_networks(config.model).inpainter
    self._complete = jax.pmap(self._fill_shard, axis_name='batch')
    self._lpips = None
    # Patch positions depend on the masks alone: the truths' patches once.
    self._truth_patches = metrics.hole_patches(self.images, self.masks)

  @classmethod
  def from_options(cls, config, **options):
    return cls(config, num_images=options.get('num_images', 64))

  def _fill_shard(self, params, image, mask):
    out = self._inpainter.apply({'params': params}, image * 2.0 - 1.0, mask,
                                None, method='complete')
    out = (out.astype(jnp.float32) + 1.0) / 2.0
    return out * mask + image * (1.0 - mask)  # composited

  def fill(self, replicated) -> np.ndarray:
    """Composited fills float32 [N, S, S, 3] of the set, by the pmapped
    model with `replicated` {'prior', 'generator'} weights."""
    d = jax.local_device_count()
    n = len(self.images)
    per = -(-n // d)
    pad = per * d - n  # repeats of the last image, dropped afterwards

    def shard(x):
      x = np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x
      return x.reshape((d, per) + x.shape[1:])

    out = self._complete(replicated, shard(self.images), shard(self.masks))
    return np.asarray(out).reshape((per * d,) + self.images.shape[1:])[:n]

  def run(self, params, *, scorers=None, baselines: Sequence[str] = ()
          ) -> Dict:
    """Scores; `params`: the loop's replicated {'prior', 'generator'}
    weights, or InpaintParams (replicated here).  Baselines: none."""
    del baselines
    if not isinstance(params, dict):  # InpaintParams, as eval.py passes
      params = flax.jax_utils.replicate(params.params)
    t = time.perf_counter()
    result = self.score(self.fill(params), scorers)
    result['seconds'] = time.perf_counter() - t
    return result

  def score(self, out, scorers=None) -> Dict:
    """The scores of composited fills float32 [N, S, S, 3] of the set."""
    per_image = metrics.image_metrics(out, self.images, self.masks)
    result = {'hole_l1': float(np.mean(per_image['hole_l1'])),
              'psnr': float(np.mean(per_image['psnr']))}
    weights = (scorers.lpips, scorers.lpips_net) if scorers else (
        self._shipped_lpips())
    result['lpips'] = float(np.mean(np.asarray(lpips.distance_jit(
        weights[0], weights[1], *self._lpips_size(out, weights[1])))))
    result['swd'] = metrics.swd(metrics.hole_patches(out, self.masks),
                                self._truth_patches)['swd']
    result['n'] = len(self.images)
    return result

  def _lpips_size(self, out, net: str):
    """(out, truth), upsampled to LPIPS's smallest input where the training
    size is below it (16 px test runs): a score at every size."""
    side = lpips.min_side(net)
    if min(out.shape[1:3]) >= side:
      return out, self.images
    shape = (out.shape[0], side, side, 3)
    return tuple(jax.image.resize(x, shape, 'linear')
                 for x in (out, self.images))

  def _shipped_lpips(self):
    if self._lpips is None:
      scorers = network_metrics.load()
      self._lpips = (scorers.lpips, scorers.lpips_net)
    return self._lpips

  def report(self, result) -> str:
    return format_scores(result)

  def write(self, result, out_dir) -> List[str]:
    path = out_dir / f'{self.tag}.json'
    path.write_text(json.dumps(result, indent=1))
    return [str(path)]


def format_scores(result) -> str:
  """One line: 'eval hole L1 0.081 PSNR 24.10 LPIPS 0.112 SWD 140'."""
  return (f'eval hole L1 {result["hole_l1"]:.4f}  PSNR {result["psnr"]:.2f}'
          f'  LPIPS {result["lpips"]:.4f}  SWD {result["swd"]:.0f}')

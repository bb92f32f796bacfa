"""Held-out evaluation: the model and classical baselines, side by side.

Every method sees the same images and the same fixed masks (from
input_pipeline.load_eval_data).  Results are reported overall and per
hole-ratio bucket; diversity is measured on prior samples.
"""
import time
from typing import Dict, Sequence

import jax
import numpy as np

from vaegan_jax import baselines as baselines_lib
from vaegan_jax import checkpoint
from vaegan_jax import inference
from vaegan_jax import input_pipeline
from vaegan_jax import metrics

MODEL = 'vaegan'


def _summaries(per_image) -> Dict[str, Dict]:
  out = {'all': metrics.summarize(per_image)}
  for name, idx in metrics.bucket_indices(per_image['hole_ratio']).items():
    out[name] = metrics.summarize({k: v[idx] for k, v in per_image.items()})
  return out


def run(workdir: str, *, image_size=None, num_masks_per_image: int = 8,
        baselines: Sequence[str] = (), num_samples: int = 8,
        diversity_images: int = 48, seed: int = 0, step=None,
        folder=None) -> Dict:
  """Scores `workdir`'s model (and `baselines`) on the held-out set.

  With `folder`, the images are the centre squares of the first 16 images
  in that folder (any photos the model never saw) instead.

  Returns:
    {'step', 'image_size', 'num_images', 'names', 'results': {method:
    {'all' | bucket: summary}}, 'per_image': {method: {metric: [N]}},
    'diversity': {...}, 'seconds': {method: s}, 'outputs': {method:
    float [N, S, S, 3]}, 'image', 'mask'}.
  """
  config = checkpoint.read_config(workdir)
  if folder:
    config.data.source, config.data.folder = 'folder', folder
  params = inference.load_params(workdir, step=step)
  data = input_pipeline.load_eval_data(
      config, num_masks_per_image=num_masks_per_image, image_size=image_size)
  image, mask = data['image'], data['mask']
  outputs, seconds = {}, {}
  t = time.perf_counter()
  outputs[MODEL] = inference.inpaint(params, image, mask > 0.5)
  seconds[MODEL] = time.perf_counter() - t
  for method in baselines:
    t = time.perf_counter()
    outputs[method] = baselines_lib.inpaint_classical(method, image, mask)
    seconds[method] = time.perf_counter() - t
  per_image = {m: metrics.image_metrics(o, image, mask)
               for m, o in outputs.items()}
  result = {
      'step': params.step, 'image_size': int(image.shape[1]),
      'num_images': len(data['name']), 'names': data['name'],
      'results': {m: _summaries(p) for m, p in per_image.items()},
      'per_image': per_image, 'seconds': seconds, 'outputs': outputs,
      'image': image, 'mask': mask,
  }
  if num_samples and num_samples > 1:
    n = min(diversity_images, len(image))
    samples = inference.inpaint(params, image[:n], mask[:n] > 0.5,
                                num_samples=num_samples,
                                rng=jax.random.PRNGKey(seed))
    div = metrics.diversity(samples, image[:n], mask[:n])
    result['diversity'] = {
        'num_samples': num_samples, 'num_images': n,
        'pairwise_hole_l1': float(np.mean(div['pairwise_hole_l1'])),
        'best_of_k_psnr': float(np.mean(div['best_psnr'])),
        'mean_latent_psnr': float(np.mean(per_image[MODEL]['psnr'][:n])),
    }
    result['samples'] = samples
  return result


def format_table(result) -> str:
  """Plain-text table: one row per method and bucket."""
  rows = [('method', 'holes', 'n', 'PSNR dB', 'SSIM', 'hole L1', 'detail')]
  for method, summaries in result['results'].items():
    for bucket, s in summaries.items():
      rows.append((method, bucket, str(s['n']), f"{s['psnr']:.2f}",
                   f"{s['ssim']:.4f}", f"{s['hole_l1']:.4f}",
                   f"{s.get('detail_ratio', float('nan')):.3f}"))
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
  lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
           for r in rows]
  if 'diversity' in result:
    d = result['diversity']
    lines.append(
        f"diversity ({d['num_samples']} samples x {d['num_images']} images): "
        f"pairwise hole L1 {d['pairwise_hole_l1']:.4f}, best-of-k PSNR "
        f"{d['best_of_k_psnr']:.2f} dB (mean latent {d['mean_latent_psnr']:.2f})")
  return '\n'.join(lines)


def to_json(result) -> Dict:
  """The JSON-serialisable part of `run`'s result."""
  per_image = {
      m: {name: {k: float(v[i]) for k, v in p.items()}
          for i, name in enumerate(result['names'])}
      for m, p in result['per_image'].items()}
  keys = ('step', 'image_size', 'num_images', 'results', 'seconds',
          'diversity')
  return dict({k: result[k] for k in keys if k in result},
              per_image=per_image)

"""The published tables' evaluation protocols, as fixed, seeded mask sets.

  lama    LaMa's thin, medium and thick masks (Suvorov et al. 2022;
          docs/evaluation.md gives the parameters), one of each per
          image; masks over 50% of the image are redrawn, as LaMa drops
          them.  Table: FID and LPIPS per mask kind (LaMa's layout), with
          PSNR and SSIM.
  nvidia  NVIDIA / PConv hole-ratio buckets 1-10%, ..., 50-60%: image i
          gets an irregular mask (strokes: free-form, thin, medium, thick)
          of bucket i mod 6.  Table: the same metrics per bucket.

Images: the first `num_images` of the data source's evaluation split
(TFDS: config.data.tfds_eval_split, else 'validation' / 'test'; embedded:
the held-out photos; folder: the sorted files), centre squares resized to
`image_size`.  `write_masks` saves every mask as a PNG with a manifest, so
others can score the same set.
"""
import json
import os
from typing import Dict, List, Sequence

import ml_collections
import numpy as np

from vaegan_jax.data import eval_sets
from vaegan_jax.data import masks
from vaegan_jax.evaluation import common
from vaegan_jax.evaluation import metrics
from vaegan_jax.evaluation import network_metrics
from vaegan_jax.run import image_io

PROTOCOLS = ('lama', 'nvidia')
LAMA_KINDS = ('thin', 'medium', 'thick')
NVIDIA_BUCKETS = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4),
                  (0.4, 0.5), (0.5, 0.6))
SEED = 2027


def _mask_config(kinds: Sequence[str], lo: float, hi: float):
  cfg = ml_collections.ConfigDict({k: 0.0 for k in masks.MASK_TYPES})
  for k in kinds:
    cfg[k] = 1.0
  cfg.min_ratio, cfg.max_ratio = lo, hi
  return cfg


def mask_sets(protocol: str, num_images: int,
              size: int) -> Dict[str, Dict[str, np.ndarray]]:
  """{set name: {'index': image indices [n], 'mask': float32 [n, S, S, 1]}}.

  The same on every call and machine (stateless seeds).
  """
  if protocol not in PROTOCOLS:
    raise ValueError(f'protocol must be one of {PROTOCOLS}; got {protocol!r}')
  one_pixel = 1.0 / (size * size)
  sets = {}
  if protocol == 'lama':
    for k, kind in enumerate(LAMA_KINDS):
      sets[kind] = {'index': np.arange(num_images), 'mask': masks.fixed_masks(
          SEED + k, num_images, size, size,
          _mask_config([kind], one_pixel, 0.5))}
  else:
    strokes = ('free_form', 'thin', 'medium', 'thick')
    for b, (lo, hi) in enumerate(NVIDIA_BUCKETS):
      index = np.arange(b, num_images, len(NVIDIA_BUCKETS))
      name = f'{round(lo * 100)}-{round(hi * 100)}%'
      sets[name] = {'index': index, 'mask': masks.fixed_masks(
          SEED + 10 + b, len(index), size, size,
          _mask_config(strokes, max(lo, one_pixel), hi))}
  return sets


def load_images(config, num_images: int, size: int):
  """(float32 [N, S, S, 3] centre squares in [0, 1], names), fixed order."""
  named = eval_sets.named_images(config, max_images=num_images,
                                 tfds_splits=('validation', 'test'))
  named = named[:num_images]
  if not named:
    raise ValueError('the protocol found no images to evaluate')
  images = np.stack([eval_sets.view(img, 1.0, 'center', size)
                     for _, img in named])
  return images, [n for n, _ in named]


def write_masks(out_dir: str, protocol: str, size: int,
                sets: Dict[str, Dict[str, np.ndarray]], names: List[str]):
  """<out_dir>/masks/<set>/<image index>.png (255 = hole), manifest.json."""
  manifest = {'protocol': protocol, 'image_size': size, 'seed': SEED,
              'images': names, 'sets': {}}
  for name, s in sets.items():
    d = os.path.join(out_dir, 'masks', name.replace('%', 'pct'))
    os.makedirs(d, exist_ok=True)
    files = []
    for i, m in zip(s['index'], s['mask']):
      path = os.path.join(d, f'{int(i):05d}.png')
      image_io.save_png(path, np.repeat(
          (m > 0.5).astype(np.uint8) * 255, 3, axis=-1))
      files.append(os.path.relpath(path, out_dir))
    manifest['sets'][name] = {'images': [int(i) for i in s['index']],
                              'masks': files}
  with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
    json.dump(manifest, f, indent=1)


def run(params, config, protocol: str, *, num_images: int, image_size: int,
        scorers=None, baselines: Sequence[str] = ()) -> Dict:
  """Scores the model (and `baselines`) on the protocol's mask sets.

  Returns {'protocol', 'image_size', 'num_images', 'names', 'sets': {set:
  {method: {psnr, ssim, n[, fid, kid, lpips, p_ids, u_ids]}}}}.
  """
  images, names = load_images(config, num_images, image_size)
  sets = mask_sets(protocol, len(images), image_size)
  result = {'protocol': protocol, 'image_size': image_size,
            'num_images': len(images), 'names': list(names), 'sets': {}}
  # Every set reuses the images: their Inception features are taken once.
  real = (network_metrics.features(scorers.inception, images)
          if scorers is not None and scorers.inception is not None else None)
  for name, s in sets.items():
    truth, mask = images[s['index']], s['mask']
    if not len(truth):
      continue
    outputs, _ = common.fill_all(params, truth, mask, baselines=baselines,
                                 fidelity=False)
    rows = {}
    for method, out in outputs.items():
      summary = metrics.summarize(metrics.image_metrics(out, truth, mask))
      rows[method] = {'all': {'n': len(truth), 'psnr': summary['psnr'],
                              'ssim': summary['ssim']}}
    if scorers is not None:
      common.add_scores(rows, network_metrics.score(
          scorers, outputs, truth, {'all': np.arange(len(truth))},
          truth_features=None if real is None else real[s['index']]))
    result['sets'][name] = {m: r['all'] for m, r in rows.items()}
  return result


def format_table(result) -> str:
  """One row per method; per set FID and LPIPS (if scored), PSNR, SSIM."""
  sets = list(result['sets'])
  methods = list(next(iter(result['sets'].values()))) if sets else []
  keys = [k for k in ('fid', 'lpips', 'psnr', 'ssim')
          if any(k in row for s in result['sets'].values()
                 for row in s.values())]
  header = ['method'] + [f'{s} {k.upper()}' for s in sets for k in keys]
  rows = [header]
  for method in methods:
    rows.append([method] + [
        f"{result['sets'][s][method].get(k, float('nan')):.4g}"
        for s in sets for k in keys])
  widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
  return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                   for r in rows)


class Protocol(common.Evaluator):
  """A published protocol's mask sets as an evaluator; writes its masks."""

  def __init__(self, config, protocol: str, *, num_images: int = 2000,
               image_size: int = 256):
    if protocol not in PROTOCOLS:
      raise ValueError(f'protocol: {protocol!r} is not one of {PROTOCOLS}')
    self.config, self.protocol = config, protocol
    self.num_images, self.image_size = num_images, image_size
    self.tag = f'protocol_{protocol}_{image_size}'
    self.out_dir = None

  @classmethod
  def from_options(cls, config, protocol, *, protocol_num_images=2000,
                   image_size=None, **unused):
    del unused  # the held-out modes' options
    return cls(config, protocol, num_images=protocol_num_images,
               image_size=image_size or 256)

  def run(self, params, *, scorers=None, baselines: Sequence[str] = ()):
    result = run(params, self.config, self.protocol,
                 num_images=self.num_images, image_size=self.image_size,
                 scorers=scorers, baselines=baselines)
    result['step'] = params.step
    return result

  def report(self, result) -> str:
    return (f"{self.protocol} protocol, {self.image_size} px, "
            f"{result['num_images']} images (step {result['step']})\n"
            + format_table(result))

  def write(self, result, out_dir) -> List[str]:
    """results.json and every mask as a PNG, with a manifest."""
    directory = out_dir / self.tag
    directory.mkdir(parents=True, exist_ok=True)
    sets = mask_sets(self.protocol, result['num_images'], self.image_size)
    write_masks(str(directory), self.protocol, self.image_size, sets,
                result['names'])
    path = directory / 'results.json'
    path.write_text(json.dumps(result, indent=2))
    return [str(path), str(directory / 'manifest.json')]

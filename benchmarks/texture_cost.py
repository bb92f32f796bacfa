"""What texture in the hole costs in PSNR, with a perfect texture oracle.

  python benchmarks/texture_cost.py                  # 264 held-out images
  python benchmarks/texture_cost.py --sigmas 1,2 --json out.json

The quality targets ask for both PSNR >= biharmonic + 0.5 dB and a detail
ratio near 1.  This script measures how far apart the two pull, with no
model involved. On the held-out eval set (configs/default.py, 64 px, the same
8 fixed masks per view as eval.py) it scores:

  F                 a smooth fill (biharmonic; harmonic = fills.harmonic_fill)
  F + texture       F plus, inside the hole, the truth's own high-frequency
                    band  T - gauss(T, sigma)  circularly shifted by half the
                    image (at sigma=2 on biharmonic: eval.py's 'oracle' row): exactly the right texture statistics and
                    amplitude, at a phase no method can know. This is the
                    best a texture synthesiser that cannot see the hidden
                    pixels can do.
  lowpass(T)        gauss(T, sigma) in the hole: a perfect smooth
                    prediction, an upper bound for blur-type fills.
  lowpass(T) + texture

and prints PSNR / SSIM / detail ratio per hole-ratio bucket.
"""
import argparse
import json

import bench_util  # pylint: disable=g-bad-import-order,unused-import

import numpy as np

from vaegan_jax.configs import default
from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import baselines
from vaegan_jax.evaluation import metrics


def _lowpass(images, sigma):
  return np.stack([baselines.lowpass(x, sigma) for x in images])


def _shifted_band(images, sigma):
  return np.stack([baselines.shifted_band(x, sigma) for x in images])


def _composite(fill, image, hole):
  return np.where(hole, np.clip(fill, 0.0, 1.0), image)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--sigmas', default='1,1.5,2',
                      help='texture band: T - gauss(T, sigma), pixels')
  parser.add_argument('--masks_per_image', type=int, default=8)
  parser.add_argument('--json', default='')
  args = parser.parse_args()
  config = default.get_config()
  data = eval_sets.load_eval_data(
      config, num_masks_per_image=args.masks_per_image)
  image, mask = data['image'], data['mask']
  hole = np.broadcast_to(mask > 0.5, image.shape)
  fills = {m: baselines.inpaint_classical(m, image, mask)
           for m in ('biharmonic', 'harmonic')}
  outputs = {m: _composite(f, image, hole) for m, f in fills.items()}
  for sigma in [float(s) for s in args.sigmas.split(',')]:
    low = _lowpass(image, sigma)
    texture = _shifted_band(image, sigma)
    for m, f in fills.items():
      outputs[f'{m} + texture(s={sigma:g})'] = _composite(f + texture, image,
                                                         hole)
    outputs[f'lowpass(s={sigma:g})'] = _composite(low, image, hole)
    outputs[f'lowpass(s={sigma:g}) + texture'] = _composite(low + texture,
                                                            image, hole)
  result = {}
  for name, out in outputs.items():
    per_image = metrics.image_metrics(out, image, mask)
    rows = {'all': metrics.summarize(per_image)}
    for bucket, idx in metrics.bucket_indices(per_image['hole_ratio']).items():
      rows[bucket] = metrics.summarize(
          {k: v[idx] for k, v in per_image.items()})
    result[name] = rows
  buckets = list(result['biharmonic'])
  print(f'{len(image)} images, {image.shape[1]} px; PSNR dB / SSIM / detail '
        'ratio')
  print(f'{"method":34s}' + ''.join(f'{b:>24s}' for b in buckets))
  for name, rows in result.items():
    print(f'{name:34s}' + ''.join(
        f"{rows[b]['psnr']:9.2f} {rows[b]['ssim']:6.3f} "
        f"{rows[b]['detail_ratio']:6.2f} " for b in buckets))
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(result, f, indent=1)


if __name__ == '__main__':
  main()

"""The attention generator's copy settings, compared at inference time.

  python benchmarks/copy_settings.py                      # training split
  python benchmarks/copy_settings.py --settings 2,0,linear 8,4,energy

Same weights in every row; only `config.model.attention`'s band_sigma,
min_distance, blend and band_scale change (each setting is
sigma,min_distance,blend[,band_scale]).
Scored on fixed 64 px crops and masks of the *training* photos (seed 0
subset), so that choosing a setting does not look at the held-out set;
eval.py then gives the honest numbers.  Prints PSNR, SSIM, detail ratio
and SWD per setting, beside biharmonic, shift-map and the base alone (the
fidelity output).  docs/quality.md has a run.
"""
import argparse

import bench_util  # pylint: disable=g-bad-import-order,unused-import

import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import baselines
from vaegan_jax.evaluation import metrics
from vaegan_jax.inference import api
from vaegan_jax.inference import seams
from vaegan_jax.inference import whole_photo
from vaegan_jax import models
from vaegan_jax.run import config_file


def _fills(params, model_config, image, mask, texture=True, batch=64):
  generator = models.create_networks(model_config).inpainter

  def complete(module, x, m):
    z, _, _ = module.encode(x, m)
    out = module.generator(x * (1 - m), m, z, texture=texture)
    return jnp.clip(out, -1.0, 1.0)

  run = jax.jit(lambda p, x, m: generator.apply({'params': p}, x, m,
                                                method=complete))
  out = np.concatenate([
      np.asarray(run(params, image[i:i + batch] * 2 - 1, mask[i:i + batch]))
      for i in range(0, len(image), batch)]) / 2 + 0.5
  # As inpaint: seams blended, visible pixels kept.
  out = np.stack([seams.seam_correct(o, x, m[..., 0] > 0.5)
                  for o, x, m in zip(out, image, mask)])
  return np.where(mask > 0.5, out, image)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default='pretrained/vaegan64')
  parser.add_argument('--split', default='train')
  parser.add_argument('--num_images', type=int, default=512)
  parser.add_argument('--settings', nargs='*', default=[
      '2,0,linear', '2,0,energy', '4,4,energy', '6,4,energy', '8,4,energy'])
  args = parser.parse_args()
  params = api.load_params(args.workdir)
  config = config_file.read(args.workdir)
  data = eval_sets.load_eval_data(config, num_masks_per_image=4,
                                  split=args.split, image_size=64)
  pick = np.random.RandomState(0).permutation(len(data['image']))
  image = data['image'][pick[:args.num_images]]
  mask = data['mask'][pick[:args.num_images]]
  truth = metrics.hole_patches(image, mask)

  groups = {'all': np.arange(len(image))}
  groups.update(metrics.bucket_indices(mask.mean(axis=(1, 2, 3))))

  def report(name, out):
    per_image = metrics.image_metrics(out, image, mask)
    patches = metrics.hole_patches(out, mask)
    for bucket, idx in groups.items():
      s = metrics.summarize({k: v[idx] for k, v in per_image.items()})
      s.update(metrics.swd(patches, truth, images=idx))
      print(f"{name:34s} {bucket:7s} PSNR {s['psnr']:6.2f}  "
            f"SSIM {s['ssim']:.3f}  detail {s['detail_ratio']:.2f}  "
            f"SWD {s['swd']:6.1f}", flush=True)

  print(f'{len(image)} crops of the {args.split} split, 64 px')
  for name in ('biharmonic', 'shiftmap'):
    report(name, baselines.inpaint_classical(name, image, mask))
  report('base alone (fidelity)',
         _fills(params.params, params.model_config, image, mask, False))
  for setting in args.settings:
    sigma, distance, blend, scale = (setting + ',0').split(',')[:4]
    model_config = params.model_config.copy_and_resolve_references()
    model_config.attention.band_sigma = float(sigma)
    model_config.attention.min_distance = int(distance)
    model_config.attention.blend = blend
    model_config.attention.band_scale = float(scale)
    report(f'sigma {sigma}, min_dist {distance}, {blend}, scale {scale}',
           _fills(params.params, model_config, image, mask))


if __name__ == '__main__':
  main()

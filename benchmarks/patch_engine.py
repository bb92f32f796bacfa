"""Scores settings of the patch engine in minutes: whole photos + 256 px.

  python benchmarks/patch_engine.py --rows default
  python benchmarks/patch_engine.py --rows 'sharp=best_final=1,gradients=1'
  python benchmarks/patch_engine.py --rows 'bare=@none,guide_weight=0'
  python benchmarks/patch_engine.py --split heldout --anchors pm3,pm5,pm7

Each row is NAME=KEY=VALUE,... of `patch_synthesis.Settings` fields over
the shipped defaults; '@none' replaces the network's guide by a smooth
push-pull fill (the engine with no network at all).  Scored on
`--photos` whole photos of the split (every k-th, long side <= 1024, their
fixed object holes, as eval.py's photo mode) and `--crops` 256 px crops
(the large views, one mask each): LPIPS (hole box + 32 px on photos), SWD,
PSNR, detail ratio and median seconds per image.  The anchors
(pypatchmatch at radius 3 / 5 / 7: pm3, pm5, pm7; biharmonic) are cached
under --cache, so a run scores only the new rows.  Choose settings on the
training split; --split heldout gives the honest numbers.
"""
import argparse
import hashlib
import os
import statistics
import time

import bench_util  # pylint: disable=g-bad-import-order

import jax
import numpy as np

from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import baselines
from vaegan_jax.evaluation import held_out
from vaegan_jax.evaluation import metrics
from vaegan_jax.evaluation import network_metrics
from vaegan_jax.inference import api
from vaegan_jax.inference import runner
from vaegan_jax.inference import patch_synthesis
from vaegan_jax.inference import seams
from vaegan_jax.inference import whole_photo
from vaegan_jax.run import config_file

ANCHORS = {'pm3': ('patchmatch', 3), 'pm5': ('patchmatch', 5),
           'pm7': ('patchmatch', 7), 'biharmonic': ('biharmonic', None)}


def load_sets(config, split: str, photos: int, crops: int):
  """{'photo': (images, masks), '256px': (images [N], masks [N])}."""
  data = eval_sets.load_eval_photos(config, split=split)
  n = len(data['image'])
  pick = np.linspace(0, n - 1, min(photos, n)).round().astype(int)
  sets = {}
  if photos:
    sets['photo'] = ([data['image'][i] for i in pick],
                     [data['mask'][i] for i in pick])
  if crops:
    views, _ = held_out.CROP_VIEWS['large']
    c = eval_sets.load_eval_data(config, num_masks_per_image=1, split=split,
                                 image_size=256, views=views)
    idx = np.random.RandomState(0).permutation(len(c['image']))[:crops]
    sets['256px'] = (list(c['image'][idx]), list(c['mask'][idx]))
  return sets


def _smooth_model(images, holes, key):
  del key  # A fill with no network: push-pull of the visible colours.
  return np.stack([seams.push_pull(x, ~h)
                   for x, h in zip(images, holes)])


def parse_row(spec: str):
  """'name=k=v,k=v' -> (name, Settings, network?)."""
  name, _, rest = spec.partition('=')
  settings, network = patch_synthesis.Settings(), True
  types = patch_synthesis.Settings.__annotations__
  for item in filter(None, rest.split(',')):
    if item == '@none':
      network = False
      continue
    k, _, v = item.partition('=')
    if k not in types:
      raise SystemExit(f'unknown setting {k!r}; one of {sorted(types)}')
    t = types[k]
    settings = settings._replace(
        **{k: bool(int(v)) if t is bool else t(v)})
  return name, settings, network


def fill_row(params, images, masks, settings, network):
  model = (runner.Runner(params) if network
           else _smooth_model)
  outs, secs = [], []
  for x, m in zip(images, masks):
    hole = np.asarray(m).reshape(x.shape[:2]) > 0.5
    t = time.perf_counter()
    out = whole_photo.fill(model, x, hole, work_size=params.image_size,
                           synthesis=settings,
                           synthesis_key=jax.random.fold_in(
                               jax.random.PRNGKey(0), 0))
    secs.append(time.perf_counter() - t)
    outs.append(np.where(hole[..., None], out, x))
  return outs, secs


def anchor_row(name, images, masks, cache, tag):
  method, radius = ANCHORS[name]
  digest = hashlib.sha1(b''.join(np.asarray(m).tobytes()[:4096]
                                 for m in masks)).hexdigest()[:10]
  path = os.path.join(cache, f'{tag}_{name}_{len(images)}_{digest}.npz')
  if os.path.exists(path):
    z = np.load(path)
    return [z[f'o{i}'] for i in range(len(images))], list(z['secs'])
  outs, secs = [], []
  for x, m in zip(images, masks):
    hole = np.asarray(m).reshape(x.shape[:2]) > 0.5
    t = time.perf_counter()
    if method == 'patchmatch':
      out = baselines.patchmatch(x, hole, radius)
    else:
      out = baselines.inpaint_classical(method, [x], [hole])[0]
    secs.append(time.perf_counter() - t)
    outs.append(np.where(hole[..., None], np.clip(out, 0, 1), x))
  os.makedirs(cache, exist_ok=True)
  np.savez(path, secs=np.array(secs),
           **{f'o{i}': o for i, o in enumerate(outs)})
  return outs, secs


def score(scorers, outs, images, masks, photo: bool):
  per = [metrics.image_metrics(o[None], x[None], np.reshape(
      m, x.shape[:2] + (1,))[None]) for o, x, m in zip(outs, images, masks)]
  summary = metrics.summarize(
      {k: np.concatenate([p[k] for p in per]) for k in per[0]})
  summary.update(metrics.swd(metrics.hole_patches(outs, masks),
                             metrics.hole_patches(images, masks)))
  lp = network_metrics.lpips_distances(
      scorers.lpips, scorers.lpips_net, outs, images,
      masks=masks if photo else None)
  summary['lpips'] = float(np.nanmean(lp))
  return summary


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default='pretrained/vaegan64')
  parser.add_argument('--split', default='train')
  parser.add_argument('--photos', type=int, default=12)
  parser.add_argument('--crops', type=int, default=32)
  parser.add_argument('--anchors', default='pm3,biharmonic')
  parser.add_argument('--rows', nargs='*', default=['default'])
  parser.add_argument('--cache', default=os.path.join(
      bench_util.ROOT, 'benchmarks', 'results', 'anchor_cache'))
  parser.add_argument('--save', default='',
                      help='a folder: each row\'s outputs as .npz')
  args = parser.parse_args()
  parsed = {r: parse_row(r) for r in args.rows}  # Bad rows fail first.
  params = api.load_params(args.workdir)
  config = config_file.read(args.workdir)
  sets = load_sets(config, args.split, args.photos, args.crops)
  scorers = network_metrics.load()
  print(f'{args.split}: ' + ', '.join(f'{len(v[0])} {k}'
                                      for k, v in sets.items()))
  print(f"{'row':28s} {'set':6s} {'LPIPS':>6s} {'SWD':>6s} {'PSNR':>6s} "
        f"{'detail':>6s} {'s/img':>6s}")
  rows = [a for a in args.anchors.split(',') if a] + args.rows
  for row in rows:
    for tag, (images, masks) in sets.items():
      if row in ANCHORS:
        name = row
        outs, secs = anchor_row(row, images, masks, args.cache,
                                f'{args.split}_{tag}')
      else:
        name, settings, network = parsed[row]
        outs, secs = fill_row(params, images, masks, settings, network)
        if args.save:
          os.makedirs(args.save, exist_ok=True)
          np.savez_compressed(
              os.path.join(args.save, f'{name}_{tag}.npz'),
              **{f'o{i}': (o * 255).round().astype(np.uint8)
                 for i, o in enumerate(outs)})
      s = score(scorers, outs, images, masks, tag == 'photo')
      print(f"{name:28s} {tag:6s} {s['lpips']:6.4f} {s['swd']:6.1f} "
            f"{s['psnr']:6.2f} {s['detail_ratio']:6.2f} "
            f"{statistics.median(secs):6.2f}", flush=True)


if __name__ == '__main__':
  main()

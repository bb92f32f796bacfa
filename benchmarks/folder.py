"""A folder in one command against one command per photo.

  python benchmarks/folder.py               # 20 photos, long side <= 512
  python benchmarks/folder.py --smoke

The embedded photos (training split first, then held-out: timing only, no
tuning), each with its fixed object-like hole
(data.eval_sets.load_eval_photos), written as PNG files, in two sets:
'same', every photo cropped to one size (a camera's folder), and 'mixed',
each at its own size with the long side <= --max_side.  For each set,
`vaegan-inpaint photos/ masks/ -o out/` once, and `vaegan-inpaint photo
mask -o out.png` for each photo, each way with its own empty on-disk
compile cache (as on a first run; later single calls of a size already
seen reuse that cache).  The outputs must be identical.
"""
import os
import subprocess
import sys
import tempfile
import time

import bench_util  # pylint: disable=g-bad-import-order

import numpy as np
from PIL import Image

from vaegan_jax.configs import default as default_config
from vaegan_jax.data import eval_sets
from vaegan_jax.data import masks


def _photos(count: int, max_side: int, same: bool):
  """[(name, float image, float mask)]: training photos, then held-out;
  with `same` each cropped to (3/4 max_side) x max_side (or its transpose
  fitted), the hole drawn for that size."""
  config = default_config.get_config()
  found = []
  for split in ('train', 'heldout'):
    if same:
      named = eval_sets.named_images(config, split=split)
      h, w = 3 * max_side // 4, max_side
      for i, (name, image) in enumerate(named):
        image = np.asarray(image, np.float32) / (255.0 if np.asarray(
            image).dtype == np.uint8 else 1.0)
        if min(image.shape[:2]) < h or max(image.shape[:2]) < w:
          continue
        if image.shape[0] > image.shape[1]:
          image = image.transpose(1, 0, 2)
        y0 = (image.shape[0] - h) // 2
        x0 = (image.shape[1] - w) // 2
        crop = image[y0:y0 + h, x0:x0 + w]
        hole = masks.object_mask(eval_sets.EVAL_MASK_SEED, i, h, w)
        found.append((name.replace('/', '_'), crop, hole))
    else:
      data = eval_sets.load_eval_photos(config, max_side=max_side,
                                        split=split)
      for image, mask, name in zip(data['image'], data['mask'],
                                   data['name']):
        found.append((name.replace('/', '_'), image, mask[..., 0]))
  return found[:count]


def _cli(args, env):
  t = time.perf_counter()
  proc = subprocess.run([sys.executable, '-m', 'vaegan_jax.inference', *args],
                        cwd=bench_util.ROOT, env=env, capture_output=True,
                        text=True, check=False)
  if proc.returncode:
    raise RuntimeError(proc.stderr[-2000:])
  return time.perf_counter() - t


def _compare(photos):
  """One folder command against one command per photo, each way with its
  own empty compile cache."""
  with tempfile.TemporaryDirectory() as tmp:
    dirs = {k: os.path.join(tmp, k) for k in ('photos', 'masks', 'folder',
                                               'single')}
    for d in dirs.values():
      os.makedirs(d)
    for name, image, mask in photos:
      image = np.round(np.asarray(image) * 255).astype(np.uint8)
      Image.fromarray(image).save(os.path.join(dirs['photos'], name + '.png'))
      hole = np.asarray(mask).reshape(image.shape[:2]) > 0.5
      Image.fromarray(hole.astype(np.uint8) * 255).save(
          os.path.join(dirs['masks'], name + '.png'))
    env = {k: dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(tmp, k))
           for k in ('cache_folder', 'cache_single')}
    folder_s = _cli([dirs['photos'], dirs['masks'], '-o', dirs['folder']],
                    env['cache_folder'])
    single = [_cli([os.path.join(dirs['photos'], n + '.png'),
                    os.path.join(dirs['masks'], n + '.png'), '-o',
                    os.path.join(dirs['single'], n + '.png')],
                   env['cache_single'])
              for n, _, _ in photos]
    same = all(np.array_equal(
        np.asarray(Image.open(os.path.join(dirs['folder'], n + '.png'))),
        np.asarray(Image.open(os.path.join(dirs['single'], n + '.png'))))
               for n, _, _ in photos)
  return {'photos': len(photos),
          'sizes': [list(np.shape(img)[:2]) for _, img, _ in photos],
          'folder_s': folder_s, 'single_calls_s': sum(single),
          'single_call_median_s': bench_util.median(single),
          'single_over_folder': sum(single) / folder_s, 'same_outputs': same}


def main():
  p = bench_util.parser('folder', __doc__)
  p.add_argument('--photos', type=int, default=None,
                 help='how many photos (default 20; smoke 1)')
  p.add_argument('--max_side', type=int, default=None,
                 help='their long side (default 512; smoke 96)')
  p.add_argument('--sets', default=None,
                 help="'same', 'mixed' or 'same,mixed' (default; smoke: "
                 "same)")
  args = p.parse_args()
  count = args.photos or (1 if args.smoke else 20)
  max_side = args.max_side or (96 if args.smoke else 512)
  sets = (args.sets or ('same' if args.smoke else 'same,mixed')).split(',')
  results, rows = {'photos': count, 'max_side': max_side}, []
  for which in sets:
    r = _compare(_photos(count, max_side, which == 'same'))
    results[which] = r
    rows.append((which, r['photos'], r['folder_s'], r['single_calls_s'],
                 r['single_call_median_s'], r['single_over_folder'],
                 r['same_outputs']))
  bench_util.print_table(
      f'{count} photos (long side {max_side}), each way a cold compile '
      'cache', ['set', 'photos', 'one folder command s',
                'single commands s', 'single median s', 'ratio',
                'same outputs'], rows)
  bench_util.write_json(args.json, 'folder', args, results)


if __name__ == '__main__':
  main()

"""A folder in one command against one command per photo.

  python benchmarks/folder.py               # 20 photos, long side <= 512
  python benchmarks/folder.py --smoke

The embedded photos (training split first, then held-out: timing only, no
tuning), downscaled to --max_side, each with its fixed object-like hole
(data.eval_sets.load_eval_photos), written as PNG files.  Both ways share
one on-disk compile cache, warmed first by one single call that is not
timed, as for a user who has run the command before.  Then
`vaegan-inpaint photos/ masks/ -o out/` once, and `vaegan-inpaint
photo mask -o out.png` for each photo; the outputs must be identical.
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


def _photos(count: int, max_side: int):
  """[(name, uint8 image, uint8 mask)]: training photos, then held-out."""
  config = default_config.get_config()
  found = []
  for split in ('train', 'heldout'):
    data = eval_sets.load_eval_photos(config, max_side=max_side, split=split)
    for image, mask, name in zip(data['image'], data['mask'], data['name']):
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


def main():
  p = bench_util.parser('folder', __doc__)
  p.add_argument('--photos', type=int, default=None,
                 help='how many photos (default 20; smoke 2)')
  p.add_argument('--max_side', type=int, default=None,
                 help='their long side (default 512; smoke 96)')
  args = p.parse_args()
  count = args.photos or (2 if args.smoke else 20)
  max_side = args.max_side or (96 if args.smoke else 512)
  photos = _photos(count, max_side)
  with tempfile.TemporaryDirectory() as tmp:
    dirs = {k: os.path.join(tmp, k) for k in ('photos', 'masks', 'folder',
                                               'single')}
    for d in dirs.values():
      os.makedirs(d)
    for name, image, mask in photos:
      image = np.round(np.asarray(image) * 255).astype(np.uint8)
      Image.fromarray(image).save(os.path.join(dirs['photos'], name + '.png'))
      Image.fromarray(((mask > 0.5) * 255).astype(np.uint8)).save(
          os.path.join(dirs['masks'], name + '.png'))
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(tmp, 'c'))
    first = photos[0][0] + '.png'
    warm_s = _cli([os.path.join(dirs['photos'], first),
                   os.path.join(dirs['masks'], first), '-o',
                   os.path.join(tmp, 'warm.png')], env)
    folder_s = _cli([dirs['photos'], dirs['masks'], '-o', dirs['folder']],
                    env)
    single = [_cli([os.path.join(dirs['photos'], n + '.png'),
                    os.path.join(dirs['masks'], n + '.png'), '-o',
                    os.path.join(dirs['single'], n + '.png')], env)
              for n, _, _ in photos]
    same = all(np.array_equal(
        np.asarray(Image.open(os.path.join(dirs['folder'], n + '.png'))),
        np.asarray(Image.open(os.path.join(dirs['single'], n + '.png'))))
               for n, _, _ in photos)
  sizes = [img.shape[:2] for _, img, _ in photos]
  results = {'photos': count, 'max_side': max_side, 'sizes': sizes,
             'warm_up_call_s': warm_s, 'folder_s': folder_s,
             'single_calls_s': sum(single),
             'single_call_median_s': bench_util.median(single),
             'single_over_folder': sum(single) / folder_s,
             'same_outputs': same}
  bench_util.print_table(
      f'{count} photos (long side <= {max_side}), one warm compile cache', [
          'one folder command s', f'{count} single commands s',
          'single median s', 'ratio', 'same outputs'],
      [(folder_s, sum(single), bench_util.median(single),
        sum(single) / folder_s, same)])
  bench_util.write_json(args.json, 'folder', args, results)


if __name__ == '__main__':
  main()

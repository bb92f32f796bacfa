"""Whole-photo inpainting: warm time vs biharmonic, cold CLI, memory, 12 MP.

  python benchmarks/whole_photo.py                  # shipped model
  python benchmarks/whole_photo.py --workdir workdirs/default
  python benchmarks/whole_photo.py --smoke
  python benchmarks/whole_photo.py --texture network   # the model at every scale

The held-out photos (long side <= 1024, their object-like eval holes, as in
eval.py's photo mode).  For each: the first and the median warm time of
`inpaint`, and scikit-image's biharmonic and PatchMatch (eval.py's radius)
on the same photo and hole.  Then 3 samples against one fill (warm, the
first photo), a cold run of the file CLI in a fresh process (empty compile
cache), its wall time and peak memory, and one 12-megapixel photo (an
upscaled held-out photo with its hole) in a fresh process of its own: its
first and warm time and that process's peak memory; it must finish or
raise MemoryError.  A child's peak is its own VmHWM (ru_maxrss of a
forked child counts the parent's pages it started with).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import bench_util  # pylint: disable=g-bad-import-order

import cv2
import numpy as np

from vaegan_jax.inference import api
from vaegan_jax.run import image_io


def _gib(kib: int) -> float:
  return kib / 2**20


def _cold_cli(workdir: str, image: np.ndarray, hole: np.ndarray,
              texture: str, cold: bool = True):
  """Seconds and peak GiB of one `vaegan-inpaint` run; with an empty
  compile cache when `cold` (else the caller's, so --smoke stays short)."""
  with tempfile.TemporaryDirectory() as tmp:
    img, msk, out = (os.path.join(tmp, f) for f in ('i.png', 'm.png',
                                                     'o.png'))
    image_io.save_png(img, np.round(image * 255).astype(np.uint8))
    image_io.save_png(msk, (hole * 255).astype(np.uint8))
    env = dict(os.environ)
    if cold:
      env['JAX_COMPILATION_CACHE_DIR'] = os.path.join(tmp, 'c')
    argv = ['vaegan-inpaint', '--image', img, '--mask', msk, '--output',
            out, '--texture', texture] + (['--workdir', workdir] if workdir
                                          else [])
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, '-c', _REPORTING_CHILD.format(
            argv=argv, module='vaegan_jax.inference')],
        cwd=bench_util.ROOT, env=env, capture_output=True, text=True,
        check=False)
    seconds = time.perf_counter() - t
    if proc.returncode or not os.path.exists(out):
      raise RuntimeError(proc.stderr[-2000:])
  return seconds, _child_peak(proc.stderr)


def peak_kib() -> int:
  """This process's peak resident memory (KiB): VmHWM, which exec resets
  (ru_maxrss of a child keeps the forked parent's pages)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1])
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
  """Resets VmHWM to the current resident size (Linux: clear_refs 5)."""
  try:
    with open('/proc/self/clear_refs', 'w') as f:
      f.write('5')
    return True
  except OSError:
    return False


# Runs a module as __main__ and prints its own peak memory (KiB) last.
_REPORTING_CHILD = """
import runpy, sys
sys.argv = {argv!r}
try:
  runpy.run_module({module!r}, run_name='__main__', alter_sys=True)
finally:
  hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]
  print('PEAK_KIB', hwm[0].split()[1], file=sys.stderr)
"""


def _child_peak(stderr: str) -> float:
  lines = [l for l in stderr.splitlines() if l.startswith('PEAK_KIB ')]
  return _gib(int(lines[-1].split()[1]))


def _large_photo(args, image, hole, mp: float):
  """In this process: the first and the median warm `inpaint` of an
  mp-megapixel photo; prints JSON with this process's peak memory."""
  params = api.load_params(args.workdir or os.path.join(
      api.PRETRAINED_DIR, api.DEFAULT_MODEL))
  h = int(round((mp * 1e6 * 3 / 4) ** 0.5))
  w = h * 4 // 3
  big = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
  big_hole = cv2.resize(hole.astype(np.uint8), (w, h),
                        interpolation=cv2.INTER_NEAREST) > 0
  res = dict(large_shape=(h, w), large_hole=float(big_hole.mean()))
  try:
    t = time.perf_counter()
    api.inpaint(params, big, big_hole, texture=args.texture)
    res['large_first_s'] = time.perf_counter() - t
    # The first call compiles (XLA's memory); the warm calls' peak apart.
    res['large_peak_gib'] = _gib(peak_kib())
    reset = _reset_peak()
    res['large_warm_s'] = bench_util.median(bench_util.timed(
        lambda: api.inpaint(params, big, big_hole, texture=args.texture),
        2 if not args.smoke else 1))
    res['large_warm_peak_gib'] = _gib(peak_kib()) if reset else None
    res['large_outcome'] = 'done'
  except MemoryError as e:
    res['large_outcome'] = f'MemoryError: {e}'
    res['large_peak_gib'] = _gib(peak_kib())
  print('LARGE_JSON', json.dumps(res))


def main():
  p = bench_util.parser('whole_photo', __doc__)
  p.add_argument('--workdir', default='',
                 help='model (default: the shipped pretrained model)')
  p.add_argument('--photos', type=int, default=None,
                 help='how many held-out photos (default all; smoke 1)')
  p.add_argument('--megapixels', type=float, default=None,
                 help='size of the large photo (default 12; smoke 0.12)')
  p.add_argument('--texture', default='patches', choices=api.TEXTURES,
                 help="inpaint's texture (default: 'patches')")
  p.add_argument('--large_child', default='',
                 help='(internal) an .npz of a photo and its hole: only the '
                 'large photo, in this process')
  args = p.parse_args()
  mp = args.megapixels or (0.12 if args.smoke else 12.0)
  if args.large_child:  # No data pipeline here: its memory is not ours.
    with np.load(args.large_child) as z:
      _large_photo(args, z['image'], z['hole'], mp)
    return
  # Imported here: the large photo's process measures inpaint's memory, not
  # TensorFlow's.
  from vaegan_jax.configs import default as default_config  # pylint: disable=g-import-not-at-top
  from vaegan_jax.data import eval_sets  # pylint: disable=g-import-not-at-top
  from vaegan_jax.evaluation import baselines  # pylint: disable=g-import-not-at-top
  repeats = args.repeats or (1 if args.smoke else 3)
  params = api.load_params(args.workdir or os.path.join(
      api.PRETRAINED_DIR, api.DEFAULT_MODEL))
  data = eval_sets.load_eval_photos(default_config.get_config())
  count = args.photos or (1 if args.smoke else len(data['image']))
  max_side = 160 if args.smoke else 1024
  rows, per_photo = [], []
  for image, mask, name in list(zip(data['image'], data['mask'],
                                    data['name']))[:count]:
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
      hw = (round(image.shape[1] * scale), round(image.shape[0] * scale))
      image = cv2.resize(image, hw, interpolation=cv2.INTER_AREA)
      mask = cv2.resize(mask, hw, interpolation=cv2.INTER_NEAREST)
    hole = mask.reshape(image.shape[:2]) > 0.5
    t = time.perf_counter()
    api.inpaint(params, image, hole, texture=args.texture)
    first = time.perf_counter() - t
    warm = bench_util.median(bench_util.timed(
        lambda: api.inpaint(params, image, hole, texture=args.texture),
        repeats))
    bih = bench_util.median(bench_util.timed(
        lambda: baselines.inpaint_classical('biharmonic', image[None],
                                            hole[None]), 1))
    pm = bench_util.median(bench_util.timed(
        lambda: baselines.inpaint_classical('patchmatch', image[None],
                                            hole[None]), repeats))
    per_photo.append(dict(name=name, shape=image.shape[:2],
                          hole=float(hole.mean()), first_s=first,
                          warm_s=warm, biharmonic_s=bih, patchmatch_s=pm))
    rows.append((name, '{}x{}'.format(*image.shape[:2]), f'{hole.mean():.0%}',
                 first, warm, bih, pm, warm / bih, warm / pm))
  bench_util.print_table(
      f'whole photos, seconds (median of {repeats} warm calls)',
      ['photo', 'size', 'hole', 'first', 'warm', 'biharmonic', 'PatchMatch',
       'warm/biharmonic', 'warm/PatchMatch'], rows)
  ratios = [r['warm_s'] / r['biharmonic_s'] for r in per_photo]
  pm_ratios = [r['warm_s'] / r['patchmatch_s'] for r in per_photo]
  results = {'photos': per_photo,
             'median_warm_over_biharmonic': bench_util.median(ratios),
             'max_warm_over_biharmonic': max(ratios),
             'median_warm_over_patchmatch': bench_util.median(pm_ratios)}

  image, hole = data['image'][0], data['mask'][0][..., 0] > 0.5
  image, hole = image[:max_side, :max_side], hole[:max_side, :max_side]
  # The page's "3 alternatives" against one fill, warm, same photo.
  single = bench_util.median(bench_util.timed(
      lambda: api.inpaint(params, image, hole, texture=args.texture),
      repeats))
  api.inpaint(params, image, hole, texture=args.texture, num_samples=3)
  three = bench_util.median(bench_util.timed(
      lambda: api.inpaint(params, image, hole, texture=args.texture,
                          num_samples=3), repeats))
  results.update(single_fill_s=single, three_samples_s=three,
                 three_samples_over_single=three / single)
  bench_util.print_table('3 samples vs 1 fill, warm (median)', [
      'photo', '1 fill s', '3 samples s', 'ratio'], [(
          data['name'][0], single, three, three / single)])
  cli_s, cli_peak = _cold_cli(args.workdir, image, hole, args.texture,
                              cold=not args.smoke)
  results.update(cold_cli_s=cli_s, cold_cli_peak_gib=cli_peak)

  tmp = tempfile.TemporaryDirectory()
  large_input = os.path.join(tmp.name, 'photo.npz')
  np.savez(large_input, image=data['image'][0],
           hole=data['mask'][0][..., 0] > 0.5)
  child = subprocess.run(
      [sys.executable, os.path.abspath(__file__), '--large_child',
       large_input, '--megapixels', str(mp), '--texture', args.texture] + (
           ['--workdir', args.workdir] if args.workdir else []) + (
               ['--smoke'] if args.smoke else []),
      cwd=bench_util.ROOT, capture_output=True, text=True, check=False)
  tmp.cleanup()
  found = [l for l in child.stdout.splitlines() if l.startswith('LARGE_JSON')]
  if not found:
    raise RuntimeError(child.stderr[-2000:])
  large = json.loads(found[-1].split(' ', 1)[1])
  results.update(large, peak_gib=_gib(resource.getrusage(
      resource.RUSAGE_SELF).ru_maxrss))
  h, w = large['large_shape']
  bench_util.print_table('cold CLI, large photo (own process), peak memory', [
      'cold CLI s', 'CLI peak GiB', f'{h}x{w} first s', 'warm s', 'outcome',
      'its peak GiB (first call)', 'warm calls', 'this peak GiB'], [(
          cli_s, cli_peak, large.get('large_first_s', float('nan')),
          large.get('large_warm_s', float('nan')),
          large['large_outcome'][:40], large['large_peak_gib'],
          large.get('large_warm_peak_gib') or float('nan'),
          results['peak_gib'])])
  bench_util.write_json(args.json, 'whole_photo', args, results)


if __name__ == '__main__':
  main()

"""Inpaint benchmark: first-call and warm latency of `inpaint` vs classical.

  python benchmarks/inpaint.py                    # 64, 256, 512, 300x437
  python benchmarks/inpaint.py --sizes 512 --workdir workdirs/default
  python benchmarks/inpaint.py --padding multiple   # no size buckets
  python benchmarks/inpaint.py --smoke

One RGB image (scikit-image's astronaut, resized) and one mask from the
default mixture per size; the model is configs/default.py's architecture
(random weights unless --workdir: the cost does not depend on them;
--smoke uses configs/test.py's).
'first' is the first call at that size (trace + compile + run), 'warm' the
median of later calls.  Biharmonic (scikit-image) and Telea (OpenCV) fill
the same image and mask.  The persistent compilation cache is off (except
in --smoke), so every compile is counted; a sweep of nearby sizes then
shows how many calls compile.
"""
import time

import bench_util  # pylint: disable=g-bad-import-order

import jax
import numpy as np

from vaegan_jax.data import masks
from vaegan_jax.evaluation import baselines  # pylint: disable=g-import-not-at-top
from vaegan_jax.inference import api
from vaegan_jax.inference import runner
from vaegan_jax import models

_COMPILES = []


def _on_event(event, duration, **_):
  if event == '/jax/core/compile/backend_compile_duration':
    _COMPILES.append(duration)


jax.monitoring.register_event_duration_secs_listener(_on_event)


def _params(config, workdir):
  if workdir:
    return api.load_params(workdir)
  nets = models.create_networks(config.model)
  g_params, _ = jax.jit(lambda k: models.init_params(
      k, nets, models.size_multiple(nets)))(
          jax.random.PRNGKey(0))
  return api.InpaintParams(
      params={k: g_params[k] for k in ('prior', 'generator')},
      model_config=config.model, step=0)


def _image_and_mask(h, w, masks_config):
  import skimage.data  # pylint: disable=g-import-not-at-top
  import skimage.transform  # pylint: disable=g-import-not-at-top
  image = skimage.transform.resize(skimage.data.astronaut(), (h, w),
                                   anti_aliasing=True).astype(np.float32)
  mask = masks.mask_for_index(0, 0, h, w, masks_config).numpy()[..., 0]
  return image, mask > 0.5


def _padded(params, h, w):
  """The H x W the model runs at (buckets since they exist)."""
  f = params.pad_multiple
  return runner.padded_shape(1, h, w, f)[1:]


def _multiple(n, h, w, factor):
  """Padding to the next multiple of the factor (before buckets)."""
  return (n,) + tuple(-(-x // factor) * factor for x in (h, w))


def _bucket_cost(params, image, hole, repeats):
  """Per-round ratios of warm time, buckets / next multiple, interleaved."""
  bucket = runner.padded_shape

  def run(pad):
    runner.padded_shape = pad
    try:
      t = time.perf_counter()
      api.inpaint(params, image, hole)
      return time.perf_counter() - t
    finally:
      runner.padded_shape = bucket

  run(_multiple)  # compiles
  return [run(bucket) / run(_multiple) for _ in range(repeats)]


def _time_call(fn, repeats):
  before = len(_COMPILES)
  t = time.perf_counter()
  fn()
  first = time.perf_counter() - t
  compiles = len(_COMPILES) - before
  return first, compiles, bench_util.timed(fn, repeats)


def main():
  p = bench_util.parser('inpaint', __doc__)
  p.add_argument('--sizes', default=None,
                 help="HxW list, e.g. '64x64,512x512,300x437'")
  p.add_argument('--workdir', default='', help='use a trained model')
  p.add_argument('--sweep', type=int, default=None,
                 help='random sizes in the sweep')
  p.add_argument('--baselines', default='biharmonic,telea')
  p.add_argument('--config', default=None,
                 help='architecture (default configs/default.py; smoke: '
                 'configs/test.py)')
  p.add_argument('--padding', default='bucket', choices=['bucket', 'multiple'],
                 help="'multiple': pad to the next multiple of the "
                 'downsampling factor, as before buckets (for comparison)')
  args = p.parse_args()
  if args.padding == 'multiple':
    runner.padded_shape = _multiple
  if not args.smoke:
    # Every compile is then a real one, and counted.
    jax.config.update('jax_enable_compilation_cache', False)
  config = bench_util.load_config(args.config or (
      'configs/test.py' if args.smoke else 'configs/default.py'))
  spec = args.sizes or ('32x32,40x52' if args.smoke
                        else '64x64,256x256,512x512,300x437')
  sizes = [tuple(int(v) for v in s.split('x')) for s in spec.split(',')]
  repeats = args.repeats or (1 if args.smoke else 5)
  methods = [m for m in args.baselines.split(',') if m]
  params = _params(config, args.workdir)
  results = {'model': args.workdir or f'{config.name} config (random init)',
             'padding': args.padding, 'sizes': {}}
  rows = []
  for h, w in sizes:
    image, hole = _image_and_mask(h, w, config.masks)
    first, compiles, warm = _time_call(
        lambda: api.inpaint(params, image, hole), repeats)
    r = dict(hole_ratio=float(hole.mean()), first_s=first, compiles=compiles,
             warm_s=warm, median_warm_s=bench_util.median(warm),
             padded=_padded(params, h, w))
    for m in methods:
      t = bench_util.timed(lambda: baselines.inpaint_classical(
          m, image[None], hole[None]), max(1, repeats // 2))
      r[f'median_{m}_s'] = bench_util.median(t)
    results['sizes'][f'{h}x{w}'] = r
    rows.append((f'{h}x{w}', '{}x{}'.format(*r['padded']),
                 f'{r["hole_ratio"]:.0%}', 1e3 * first,
                 compiles, 1e3 * r['median_warm_s'],
                 *(1e3 * r[f'median_{m}_s'] for m in methods),
                 *(r[f'median_{m}_s'] / r['median_warm_s'] for m in methods)))
  bench_util.print_table(
      f'inpaint latency, ms (1 image, prior mean; median of {repeats})',
      ['size', 'padded', 'hole', 'first call', 'compiles', 'warm',
       *methods, *(f'{m}/warm' for m in methods)], rows)

  if args.padding == 'bucket':
    rows = []
    for h, w in sizes:
      f = params.pad_multiple
      bh, bw = _padded(params, h, w)
      mh, mw = _multiple(1, h, w, f)[1:]
      if (bh, bw) == (mh, mw):
        continue
      ratios = _bucket_cost(params, *_image_and_mask(h, w, config.masks),
                            2 * repeats)
      results['sizes'][f'{h}x{w}']['bucket_over_multiple'] = ratios
      rows.append((f'{h}x{w}', f'{bh}x{bw}', f'{mh}x{mw}',
                   bh * bw / (mh * mw), bench_util.median(ratios)))
    bench_util.print_table(
        'warm cost of the bucket padding: time with buckets / time padded '
        f'to multiples of {params.pad_multiple}, median of '
        f'{2 * repeats} interleaved pairs',
        ['size', 'bucket', 'multiple', 'pixels ratio', 'time ratio'], rows)

  # Sizes a user might send one after another: how many calls compile?
  n = args.sweep if args.sweep is not None else (3 if args.smoke else 12)
  rng = np.random.RandomState(0)
  lo, hi = (24, 48) if args.smoke else (200, 320)
  sweep = [(int(rng.randint(lo, hi)), int(rng.randint(lo, hi)))
           for _ in range(n)]
  inputs = [_image_and_mask(h, w, config.masks) for h, w in sweep]
  before, t = len(_COMPILES), time.perf_counter()
  for image, hole in inputs:
    api.inpaint(params, image, hole)
  shapes = sorted({_padded(params, h, w) for h, w in sweep})
  results['sweep'] = dict(sizes=sweep, compiles=len(_COMPILES) - before,
                          seconds=time.perf_counter() - t,
                          padded_shapes=shapes)
  bench_util.print_table(
      f'size sweep: {n} random sizes in [{lo}, {hi})²',
      ['calls', 'padded shapes', 'compiles', 'total s'],
      [(n, len(shapes), results['sweep']['compiles'],
        results['sweep']['seconds'])])
  bench_util.write_json(args.json, 'inpaint', args, results)


if __name__ == '__main__':
  main()

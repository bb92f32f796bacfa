"""Mask benchmark: masks/s of the tf.data mask pipeline, per type and core count.

  python benchmarks/masks.py                 # 256x256, 1 core and all cores
  python benchmarks/masks.py --size 512
  python benchmarks/masks.py --smoke

Each type is drawn alone with the default hole-ratio range (retries
included), and 'mixture' is the default config's mix.  One core means the
process is pinned to one CPU (sched_setaffinity) and tf.data gets a
one-thread pool; each core count runs in its own subprocess.
"""
import argparse
import json
import os
import subprocess
import sys

import bench_util  # pylint: disable=g-bad-import-order

KINDS = ('free_form', 'thin', 'medium', 'thick', 'box', 'mixture')


def _worker(cores: int, size: int, count: int, repeats: int, kinds):
  """Runs in a subprocess pinned to `cores` CPUs; prints JSON rates."""
  os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_inter_op_parallelism_threads(cores)
  tf.config.threading.set_intra_op_parallelism_threads(cores)
  from vaegan_jax.configs import default  # pylint: disable=g-import-not-at-top
  from vaegan_jax.data import masks  # pylint: disable=g-import-not-at-top
  rates = {}
  for kind in kinds:
    config = default.get_config().masks
    if kind != 'mixture':
      for k in masks.MASK_TYPES:
        config[k] = float(k == kind)
    options = tf.data.Options()
    options.threading.private_threadpool_size = cores
    ds = masks.mask_dataset(0, size, size, config).batch(32).with_options(
        options).prefetch(2)
    it = iter(ds)
    next(it)  # builds the graph and the thread pool
    batches = max(1, count // 32)

    def run():
      for _ in range(batches):
        next(it)
    times = bench_util.timed(run, repeats)
    rates[kind] = [32 * batches / t for t in times]
  print('RESULT ' + json.dumps(rates))


def main():
  p = bench_util.parser('masks', __doc__)
  p.add_argument('--size', type=int, default=None)
  p.add_argument('--count', type=int, default=None, help='masks per repeat')
  p.add_argument('--worker', type=int, default=0, help=argparse.SUPPRESS)
  p.add_argument('--kinds', default=','.join(KINDS))
  args = p.parse_args()
  size = args.size or (64 if args.smoke else 256)
  count = args.count or (64 if args.smoke else 1024)
  repeats = args.repeats or (1 if args.smoke else 5)
  kinds = args.kinds.split(',')
  if args.smoke:
    kinds = kinds[:2] if args.kinds == ','.join(KINDS) else kinds
  if args.worker:
    _worker(args.worker, size, count, repeats, kinds)
    return
  all_cores = len(os.sched_getaffinity(0))
  results = {'size': size, 'count': count, 'repeats': repeats, 'rates': {}}
  for cores in [1] if args.smoke else sorted({1, all_cores}):
    out = subprocess.run(
        [sys.executable, __file__, '--worker', str(cores), '--size',
         str(size), '--count', str(count), '--repeats', str(repeats),
         '--kinds', ','.join(kinds)],
        check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith('RESULT ')][-1]
    results['rates'][cores] = json.loads(line[len('RESULT '):])
  cols = sorted(results['rates'])
  results['median'] = {
      c: {k: bench_util.median(v) for k, v in results['rates'][c].items()}
      for c in cols}
  bench_util.print_table(
      f'masks/s at {size}x{size} (median of {repeats} x {count} masks)',
      ['type'] + [f'{c} core{"s" if c > 1 else ""}' for c in cols],
      [(k, *(results['median'][c][k] for c in cols)) for k in kinds])
  bench_util.write_json(args.json, 'masks', args, results)


if __name__ == '__main__':
  main()

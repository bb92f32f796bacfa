"""Input-pipeline benchmark: does the tf.data pipeline keep the train step fed?

  python benchmarks/input_pipeline.py                       # 64 and 256 px
  python benchmarks/input_pipeline.py --sizes 64
  python benchmarks/input_pipeline.py --smoke

Per image size (configs/default.py, embedded data, batch 8) it measures:
  * pipeline: images+masks/s of create_train_iterator alone;
  * step: images/s of D + G steps on a fixed in-memory batch (what the
    model consumes);
  * fed: images/s of D + G steps that take each batch from the pipeline,
    as train.py does, so both share the CPU.
'ratio' = pipeline / step (target >= 3); 'fed/step' near 1 means training
is not input-bound.
"""
import time

import bench_util  # pylint: disable=g-bad-import-order

import jax

from vaegan_jax.data import input_pipeline
import train_step


def _pipeline_rate(config, batches: int, repeats: int):
  it = input_pipeline.create_train_iterator(config, num_local_devices=1)
  for _ in range(3):  # builds the graph, fills the prefetch buffer
    next(it)

  def run():
    for _ in range(batches):
      next(it)
  return [batches * config.batch_size / t
          for t in bench_util.timed(run, repeats)]


def _step_rates(config, steps: int, repeats: int):
  """(fixed-batch images/s, pipeline-fed images/s), interleaved rounds."""
  state, batch, d_c, g_c, _, _, _ = train_step.compile_steps(config)
  it = input_pipeline.create_train_iterator(config, num_local_devices=1)
  holder = [state]

  def steps_on(get_batch):
    for _ in range(steps):
      b = get_batch()
      holder[0], _ = d_c(holder[0], b)
      holder[0], m = g_c(holder[0], b)
    jax.block_until_ready(m)

  unshard = lambda b: {k: v[0] for k, v in b.items()}  # [1, B, ...] -> [B, ...]
  steps_on(lambda: batch)
  steps_on(lambda: unshard(next(it)))  # warm up both paths
  fixed, fed = [], []
  for _ in range(repeats):
    t = time.perf_counter()
    steps_on(lambda: batch)
    fixed.append(steps * config.batch_size / (time.perf_counter() - t))
    t = time.perf_counter()
    steps_on(lambda: unshard(next(it)))
    fed.append(steps * config.batch_size / (time.perf_counter() - t))
  return fixed, fed


def main():
  p = bench_util.parser('input_pipeline', __doc__)
  p.add_argument('--config', default=None,
                 help='config file (default configs/default.py)')
  p.add_argument('--sizes', default=None, help="image sizes, e.g. '64,256'")
  p.add_argument('--set', action='append', default=[],
                 help="config override 'key=value', repeatable")
  args = p.parse_args()
  config_path = args.config or ('configs/test.py' if args.smoke
                                else 'configs/default.py')
  sizes = [int(s) for s in (args.sizes or ('16' if args.smoke
                                           else '64,256')).split(',')]
  repeats = args.repeats or (1 if args.smoke else 5)
  results = {'config': config_path, 'sizes': {}}
  rows = []
  for size in sizes:
    config = bench_util.load_config(config_path,
                                    args.set + [f'image_size={size}'])
    batches = 2 if args.smoke else max(8, 2048 // size)
    # A 256px step takes seconds: fewer, longer rounds there.
    steps = 1 if args.smoke else max(1, 320 // size)
    step_repeats = repeats if size < 256 else min(repeats, 3)
    pipe = _pipeline_rate(config, batches, repeats)
    fixed, fed = _step_rates(config, steps, step_repeats)
    r = dict(batch_size=config.batch_size, pipeline=pipe, step=fixed, fed=fed,
             **{f'median_{k}': bench_util.median(v) for k, v in
                (('pipeline', pipe), ('step', fixed), ('fed', fed))})
    r['ratio'] = r['median_pipeline'] / r['median_step']
    r['fed_over_step'] = bench_util.median(
        [a / b for a, b in zip(fed, fixed)])
    results['sizes'][size] = r
    rows.append((f'{size}²', r['median_pipeline'], r['median_step'],
                 r['ratio'], r['median_fed'], r['fed_over_step']))
  bench_util.print_table(
      f'input pipeline vs train step: {config_path}, batch '
      f'{config.batch_size}, median of {repeats}',
      ['size', 'pipeline img/s', 'step img/s', 'ratio', 'fed img/s',
       'fed/step'], rows)
  bench_util.write_json(args.json, 'input_pipeline', args, results)


if __name__ == '__main__':
  main()

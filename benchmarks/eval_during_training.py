"""What the held-out scores cost a training run: evaluator vs train steps.

  python benchmarks/eval_during_training.py                  # default config
  python benchmarks/eval_during_training.py --config configs/tpu_v3.py \\
      --set data.source=embedded
  python benchmarks/eval_during_training.py --smoke

Times the config's D + G step (compiled, the median of --steps after one
warm-up) and its evaluator (config.eval: the first call, which compiles
and loads LPIPS, and the median of the next --repeats), on the same
device(s), in the same process.  The overhead is the evaluator's warm time
over the time of config.eval_every steps; the first call is reported
apart (it is paid once per run).  Target: <= 5 % at the default settings.
"""
import time

import bench_util  # pylint: disable=g-bad-import-order

import flax
import jax

from train_step import compile_steps  # pylint: disable=g-bad-import-order
from vaegan_jax.evaluation import common


def main():
  p = bench_util.parser('eval_during_training', __doc__)
  p.add_argument('--config', default=None,
                 help='default configs/default.py; smoke: configs/test.py')
  p.add_argument('--set', action='append', default=[],
                 help='config override key=value (repeatable)')
  p.add_argument('--steps', type=int, default=None,
                 help='timed train steps (default 20; smoke 2)')
  args = p.parse_args()
  overrides = list(args.set)
  if args.smoke:
    overrides += ['batch_size=2', 'eval.num_images=4', 'eval_every=500']
  args.config = args.config or ('configs/test.py' if args.smoke
                                else 'configs/default.py')
  config = bench_util.load_config(args.config, overrides)
  steps = args.steps or (2 if args.smoke else 20)
  repeats = args.repeats or (1 if args.smoke else 3)

  state, batch, d_c, g_c, *_ = compile_steps(config)
  state, _ = d_c(state, batch)
  state, m = g_c(state, batch)
  jax.block_until_ready(m)
  times = []
  for _ in range(steps):
    t = time.perf_counter()
    state, _ = d_c(state, batch)
    state, m = g_c(state, batch)
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t)
  step_s = bench_util.median(times)

  evaluator = common.by_name(config.eval.evaluator, config,
                             num_images=config.eval.num_images)
  ema = flax.jax_utils.replicate({k: state.ema_params[k]
                                  for k in ('prior', 'generator')})
  t = time.perf_counter()
  first = evaluator.run(ema)
  first_s = time.perf_counter() - t
  warm_s = bench_util.median(bench_util.timed(lambda: evaluator.run(ema),
                                              repeats))
  every = config.eval_every or 1
  results = {'step_s': step_s, 'eval_first_s': first_s, 'eval_warm_s': warm_s,
             'eval_every': config.eval_every,
             'num_images': config.eval.num_images,
             'overhead': warm_s / (every * step_s),
             'overhead_with_first': (first_s + warm_s) / (2 * every * step_s),
             'scores': {k: first[k] for k in ('hole_l1', 'psnr', 'lpips',
                                              'swd')}}
  bench_util.print_table(
      f'{args.config}: eval every {config.eval_every} steps, '
      f'{config.eval.num_images} images, {jax.local_device_count()} device(s)',
      ['step s', 'eval first s', 'eval warm s', 'overhead (warm)',
       'overhead (first two evals)'],
      [(step_s, first_s, warm_s, results['overhead'],
        results['overhead_with_first'])])
  bench_util.write_json(args.json, 'eval_during_training', args, results)


if __name__ == '__main__':
  main()

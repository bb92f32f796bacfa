"""Train-step benchmark: D step + G step of a config, against dense matmul.

  python benchmarks/train_step.py                               # default
  python benchmarks/train_step.py --set image_size=256          # 256x256
  python benchmarks/train_step.py --set model.dtype=bfloat16
  python benchmarks/train_step.py --profile                     # per-op table
  python benchmarks/train_step.py --smoke                       # seconds

Each round times one dense fp32 matmul and `--steps` train steps back to
back, so both see the same machine load; the reported fraction is the
median over rounds of (achieved FLOP/s) / (matmul FLOP/s).  FLOPs per step
come from XLA's cost analysis of the compiled D and G steps.
"""
import functools
import time

import bench_util  # pylint: disable=g-bad-import-order

import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax import train_lib
import xla_profile


def _flops(compiled) -> float:
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get('flops', 0.0))


def make_batch(batch_size: int, size: int, seed: int = 0):
  """Random images and a central hole: the step's cost is data-independent."""
  rng = np.random.RandomState(seed)
  mask = np.zeros((batch_size, size, size, 1), np.float32)
  mask[:, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1.0
  return {'image': rng.rand(batch_size, size, size, 3).astype(np.float32),
          'mask': mask}


def compile_steps(config):
  """(state, batch, compiled d, compiled g, flops d, flops g, compile s)."""
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(config.seed))
  batch = jax.device_put(make_batch(config.batch_size, config.image_size))
  d = jax.jit(functools.partial(
      train_lib.d_step, nets=nets, d_tx=d_tx, loss_config=config.loss,
      axis_name=None), donate_argnums=(0,))
  g = jax.jit(functools.partial(
      train_lib.g_step, nets=nets, g_tx=g_tx, loss_config=config.loss,
      ema_decay=config.optim.ema_decay, axis_name=None), donate_argnums=(0,))
  t = time.perf_counter()
  d_c = d.lower(state, batch).compile()
  g_c = g.lower(state, batch).compile()
  compile_s = time.perf_counter() - t
  return state, batch, d_c, g_c, _flops(d_c), _flops(g_c), compile_s


def main():
  p = bench_util.parser('train_step', __doc__)
  p.add_argument('--config', default=None,
                 help='config file (default configs/default.py)')
  p.add_argument('--set', action='append', default=[],
                 help="config override 'key=value', repeatable")
  p.add_argument('--steps', type=int, default=None, help='steps per round')
  p.add_argument('--matmul', type=int, default=None, help='matmul side')
  p.add_argument('--profile', action='store_true', help='per-op table')
  args = p.parse_args()
  config_path = args.config or ('configs/test.py' if args.smoke
                                else 'configs/default.py')
  config = bench_util.load_config(config_path, args.set)
  repeats = args.repeats or (1 if args.smoke else 5)
  steps = args.steps or (2 if args.smoke else 20)
  n = args.matmul or (256 if args.smoke else 2048)

  state, batch, d_c, g_c, d_flops, g_flops, compile_s = compile_steps(config)
  state, _ = d_c(state, batch)
  state, _ = g_c(state, batch)  # warm up
  jax.block_until_ready(state)
  holder = [state]

  def d_only():
    holder[0], m = d_c(holder[0], batch)
    jax.block_until_ready(m)

  def g_only():
    holder[0], m = g_c(holder[0], batch)
    jax.block_until_ready(m)

  rounds = []
  for _ in range(repeats):
    mm = bench_util.matmul_flops(n, 'float32')
    mm_bf16 = bench_util.matmul_flops(n, 'bfloat16')
    d_t, g_t = [], []
    for _ in range(steps):
      d_t += bench_util.timed(d_only, 1)
      g_t += bench_util.timed(g_only, 1)
    d_s, g_s = bench_util.median(d_t), bench_util.median(g_t)
    step_s = d_s + g_s
    achieved = (d_flops + g_flops) / step_s
    rounds.append(dict(matmul_flops=mm, matmul_bf16_flops=mm_bf16, d_s=d_s, g_s=g_s, step_s=step_s,
                       achieved_flops=achieved, fraction=achieved / mm))
  med = {k: bench_util.median([r[k] for r in rounds]) for k in rounds[0]}
  results = dict(
      config=config_path, overrides=args.set, image_size=config.image_size,
      batch_size=config.batch_size, dtype=config.model.dtype,
      compile_s=compile_s, d_gflop=d_flops / 1e9, g_gflop=g_flops / 1e9,
      matmul_n=n, steps_per_round=steps, rounds=rounds,
      images_per_s=config.batch_size / med['step_s'], **{
          f'median_{k}': v for k, v in med.items()})
  bench_util.print_table(
      f'train step: {config_path} {" ".join(args.set)} '
      f'(batch {config.batch_size}, {config.image_size}px, '
      f'{config.model.dtype}); median of {repeats} rounds x {steps} steps',
      ['D ms', 'G ms', 'step ms', 'images/s', 'GFLOP/step', 'GFLOP/s',
       f'fp32 matmul {n}² GFLOP/s', 'fraction', 'compile s'],
      [(1e3 * med['d_s'], 1e3 * med['g_s'], 1e3 * med['step_s'],
        results['images_per_s'], (d_flops + g_flops) / 1e9,
        med['achieved_flops'] / 1e9, med['matmul_flops'] / 1e9,
        med['fraction'], compile_s)])

  if args.profile:
    runs = 2 if args.smoke else 5
    results['profile'] = {}
    # Traced one step at a time: D and G reuse HLO op names.
    for name, fn, compiled in (('D', d_only, d_c), ('G', g_only, g_c)):
      times = xla_profile.trace_op_times(fn, runs)
      rows, shares, total = xla_profile.op_table(
          times, xla_profile.hlo_ops(compiled.as_text()))
      bench_util.print_table(
          f'slowest ops of the {name} step ({1e3 * total:.1f} ms of ops; '
          + ', '.join(f'{k} {v:.0%}' for k, v in sorted(shares.items()))
          + ')', ['op', 'opcode', 'shape', 'ms', 'share', 'GFLOP/s'], rows)
      results['profile'][name] = dict(op_ms=1e3 * total, shares=shares,
                                      top=[list(r) for r in rows])
  bench_util.write_json(args.json, 'train_step', args, results)


if __name__ == '__main__':
  main()

"""Train-step benchmark: D step + G step of a config, against dense matmul.

  python benchmarks/train_step.py                               # default
  python benchmarks/train_step.py --set image_size=256          # 256x256
  python benchmarks/train_step.py --set model.dtype=bfloat16
  python benchmarks/train_step.py --profile                     # per-op table
  python benchmarks/train_step.py --smoke                       # seconds
  git show REV:vaegan_jax/training/train_lib.py > /tmp/old_train_lib.py
  python benchmarks/train_step.py --baseline /tmp/old_train_lib.py

With --baseline, the steps of that copy of train_lib.py (run with today's
models, losses and faults) are compiled in the same process and timed in
the same rounds, interleaved; the table then gives the median over rounds
of each per-round ratio, and whether one D + G step gives identical
losses.

Each round times one dense fp32 matmul and `--steps` train steps back to
back, so both see the same machine load; the reported fraction is the
median over rounds of (achieved FLOP/s) / (matmul FLOP/s).  FLOPs per step
come from XLA's cost analysis of the compiled D and G steps.
"""
import functools
import importlib.util
import time

import bench_util  # pylint: disable=g-bad-import-order

import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax.training import train_lib
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


def compile_steps(config, lib=train_lib):
  """(state, batch, compiled d, compiled g, flops d, flops g, compile s)."""
  nets, g_tx, d_tx, state = lib.create_train_state(
      config, jax.random.PRNGKey(config.seed))
  batch = jax.device_put(make_batch(config.batch_size, config.image_size))
  d = jax.jit(functools.partial(
      lib.d_step, nets=nets, d_tx=d_tx, loss_config=config.loss,
      axis_name=None), donate_argnums=(0,))
  g = jax.jit(functools.partial(
      lib.g_step, nets=nets, g_tx=g_tx, loss_config=config.loss,
      ema_decay=config.optim.ema_decay, axis_name=None), donate_argnums=(0,))
  t = time.perf_counter()
  d_c = d.lower(state, batch).compile()
  g_c = g.lower(state, batch).compile()
  compile_s = time.perf_counter() - t
  return state, batch, d_c, g_c, _flops(d_c), _flops(g_c), compile_s


def _load_lib(path):
  spec = importlib.util.spec_from_file_location('baseline_train_lib', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def compare(config, baseline_path, repeats, steps):
  """Interleaved rounds of the current and a baseline train_lib."""
  variants = {'baseline': compile_steps(config, _load_lib(baseline_path)),
              'current': compile_steps(config)}
  states, first = {}, {}
  for name, (state, batch, d_c, g_c, *_) in variants.items():
    state, dm = d_c(state, batch)
    states[name], gm = g_c(state, batch)
    first[name] = jax.device_get({**dm, **gm})
  keys = [k for k in first['current'] if k in first['baseline']]
  same = all(np.array_equal(first['baseline'][k], first['current'][k])
             for k in keys)
  rel_diff = max(float(np.max(np.abs(first['baseline'][k] - first['current'][k])
                               / np.maximum(np.abs(first['baseline'][k]),
                                            1e-30))) for k in keys)
  times = {name: {'d': [], 'g': []} for name in variants}
  ratios = {'d': [], 'g': [], 'step': []}
  for _ in range(repeats):
    med = {}
    for name, (_, batch, d_c, g_c, *_) in variants.items():
      d_t, g_t = [], []
      for _ in range(steps):
        t = time.perf_counter()
        states[name], m = d_c(states[name], batch)
        jax.block_until_ready(m)
        d_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        states[name], m = g_c(states[name], batch)
        jax.block_until_ready(m)
        g_t.append(time.perf_counter() - t)
      med[name] = (bench_util.median(d_t), bench_util.median(g_t))
      times[name]['d'].append(med[name][0])
      times[name]['g'].append(med[name][1])
    (bd, bg), (cd, cg) = med['baseline'], med['current']
    ratios['d'].append(cd / bd)
    ratios['g'].append(cg / bg)
    ratios['step'].append((cd + cg) / (bd + bg))
  rows = []
  for name, (*_, d_f, g_f, compile_s) in variants.items():
    d_s = bench_util.median(times[name]['d'])
    g_s = bench_util.median(times[name]['g'])
    rows.append((name, 1e3 * d_s, 1e3 * g_s, (d_f + g_f) / 1e9, compile_s))
  bench_util.print_table(
      f'current vs {baseline_path}: {repeats} interleaved rounds x {steps} '
      f'steps; first-step losses identical: {same} (largest relative '
      f'difference {rel_diff:.1e})',
      ['train_lib', 'D ms', 'G ms', 'GFLOP/step', 'compile s'], rows)
  med_ratio = {k: bench_util.median(v) for k, v in ratios.items()}
  bench_util.print_table(
      'current / baseline time, median of per-round ratios (min-max)',
      ['D', 'G', 'D + G'],
      [tuple(f'{med_ratio[k]:.3f} ({min(v):.3f}-{max(v):.3f})'
             for k, v in ratios.items())])
  return dict(baseline=baseline_path, identical_first_step=same,
              max_rel_diff_first_step=rel_diff,
              ratios=ratios, median_ratios=med_ratio,
              variants={r[0]: dict(d_ms=r[1], g_ms=r[2], gflop=r[3],
                                   compile_s=r[4]) for r in rows})


def main():
  p = bench_util.parser('train_step', __doc__)
  p.add_argument('--config', default=None,
                 help='config file (default configs/default.py)')
  p.add_argument('--set', action='append', default=[],
                 help="config override 'key=value', repeatable")
  p.add_argument('--steps', type=int, default=None, help='steps per round')
  p.add_argument('--matmul', type=int, default=None, help='matmul side')
  p.add_argument('--profile', action='store_true', help='per-op table')
  p.add_argument('--baseline', default=None,
                 help='another train_lib.py to time against, interleaved')
  args = p.parse_args()
  config_path = args.config or ('configs/test.py' if args.smoke
                                else 'configs/default.py')
  config = bench_util.load_config(config_path, args.set)
  repeats = args.repeats or (1 if args.smoke else 5)
  steps = args.steps or (2 if args.smoke else 20)
  n = args.matmul or (256 if args.smoke else 2048)
  if args.baseline:
    results = compare(config, args.baseline, repeats, steps)
    bench_util.write_json(args.json, 'train_step', args, results)
    return

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
    rounds.append(dict(matmul_flops=mm, matmul_bf16_flops=mm_bf16, d_s=d_s,
                       g_s=g_s, step_s=step_s,
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
      ops = xla_profile.hlo_ops(compiled.as_text())
      rows, shares, total = xla_profile.op_table(times, ops)
      bench_util.print_table(
          f'slowest ops of the {name} step ({1e3 * total:.1f} ms of ops; '
          + ', '.join(f'{k} {v:.0%}' for k, v in sorted(shares.items()))
          + ')', ['op', 'opcode', 'shape', 'ms', 'share', 'GFLOP/s'], rows)
      kinds = xla_profile.kind_summary(times, ops)
      bench_util.print_table(
          f'{name} step by kind of op (op times overlap: XLA runs '
          'independent ops concurrently)',
          ['kind', 'op ms', 'GFLOP', 'GFLOP/s'],
          [(k, *v) for k, v in sorted(kinds.items())])
      results['profile'][name] = dict(op_ms=1e3 * total, shares=shares,
                                      top=[list(r) for r in rows],
                                      kinds=kinds)
  bench_util.write_json(args.json, 'train_step', args, results)


if __name__ == '__main__':
  main()

"""Shared helpers for the benchmark scripts: flags, timing, tables, JSON."""
import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # before TF loads
RESULTS = os.path.join(ROOT, 'benchmarks', 'results')


def parser(name: str, doc: str) -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=doc.split('\n')[0])
  p.add_argument('--smoke', action='store_true',
                 help='tiny sizes, 1-2 repeats: checks the script in seconds')
  p.add_argument('--repeats', type=int, default=None,
                 help='timed rounds; the median is reported')
  p.add_argument('--json', default=os.path.join(RESULTS, f'{name}.json'),
                 help='where the results go')
  return p


def load_config(path: str, overrides=()):
  """get_config() of a config file, with 'a.b=value' overrides applied."""
  spec = importlib.util.spec_from_file_location('bench_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  for item in overrides:
    key, _, value = item.partition('=')
    *parents, leaf = key.split('.')
    node = config
    for part in parents:
      node = node[part]
    old = node[leaf]
    node[leaf] = (value if isinstance(old, str)
                  else tuple(json.loads(f'[{value.strip("()")}]'))
                  if isinstance(old, tuple) else type(old)(json.loads(value)))
  return config


def median(xs):
  return statistics.median(xs)


def timed(fn, repeats: int):
  """Wall times (s) of `repeats` calls of fn(); fn must block until done."""
  out = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn()
    out.append(time.perf_counter() - t)
  return out


def matmul_flops(n: int, dtype: str = 'float32', iters: int = 3) -> float:
  """Dense n x n matmul FLOP/s on the default JAX device (one timing)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32).astype(dtype)
  f = jax.jit(lambda a: a @ a)
  f(a).block_until_ready()
  return 2.0 * n**3 / min(timed(lambda: f(a).block_until_ready(), iters))


def environment():
  """What the numbers were measured on."""
  info = {'python': platform.python_version(), 'machine': platform.machine(),
          'cpus': os.cpu_count()}
  try:
    info['load_avg'] = os.getloadavg()
  except OSError:
    pass
  if 'jax' in sys.modules:
    import jax  # pylint: disable=g-import-not-at-top
    info['jax'] = jax.__version__
    info['device'] = str(jax.devices()[0].device_kind)
    info['backend'] = jax.default_backend()
  return info


def print_table(title: str, headers, rows):
  """A Markdown table, so it pastes straight into docs/benchmarks.md."""
  def fmt(x):
    if isinstance(x, float):
      return f'{x:,.3g}' if abs(x) < 100 else f'{x:,.0f}'
    return str(x)
  cells = [[fmt(x) for x in row] for row in rows]
  widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells
            else len(str(h)) for i, h in enumerate(headers)]
  line = lambda r: '| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |'
  print(f'\n{title}\n')
  print(line([str(h) for h in headers]))
  print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
  for r in cells:
    print(line(r))
  sys.stdout.flush()


def write_json(path: str, name: str, args, results):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  payload = {'benchmark': name, 'smoke': bool(args.smoke),
             'argv': sys.argv[1:], 'environment': environment(),
             'results': results}
  with open(path, 'w') as f:
    json.dump(payload, f, indent=1, default=float)
  print(f'\nwrote {path}')

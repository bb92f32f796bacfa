"""Exports the inference weights of a training workdir as a small model dir.

  vaegan-export --workdir workdirs/default --output pretrained/NAME
  (from a checkout: python -m vaegan_jax.inference.export ...)

The result holds config.json and one orbax checkpoint with only the EMA
prior encoder and generator (no discriminator, posterior or optimizer
state), so `load_params('pretrained/NAME')` reads it like any workdir.
"""
import argparse
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from vaegan_jax.run import checkpoint
from vaegan_jax.run import config_file
from vaegan_jax.run import startup


def export(workdir: str, output: str) -> int:
  """Writes `output`; returns the exported training step."""
  config = config_file.read(workdir)
  raw, step = checkpoint.restore_raw(workdir)
  source = raw.get('ema_params', raw['g_params'])
  tree = {'step': np.asarray(step, np.int32),
          'ema_params': {k: source[k] for k in ('prior', 'generator')}}
  config_file.write(output, config)
  manager = checkpoint.create_manager(output, max_to_keep=1)
  manager.save(step, args=ocp.args.StandardSave(
      jax.tree_util.tree_map(np.asarray, tree)), force=True)
  manager.wait_until_finished()
  return step


def directory_size(path: str) -> int:
  """Total bytes of the files under `path`."""
  return sum(os.path.getsize(os.path.join(root, f))
             for root, _, files in os.walk(path) for f in files)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='vaegan-export', description=__doc__.split('\n\n', 1)[1],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--workdir', required=True,
                      help='the training workdir to export (its newest '
                      'checkpoint)')
  parser.add_argument('--output', required=True,
                      help='the new model directory (config.json + one '
                      'checkpoint); load it with load_params(OUTPUT)')
  return parser


def main(argv=None):
  args = build_parser().parse_args(argv)
  startup.prepare(uses_tf=False)
  step = export(args.workdir, args.output)
  print(f'exported step {step} to {args.output} '
        f'({directory_size(args.output) / 2**20:.2f} MiB)')


if __name__ == '__main__':
  startup.quiet_native_logs()
  main()

"""Exports the inference weights of a training workdir as a small model dir.

  python -m vaegan_jax.export --workdir workdirs/default --output pretrained/NAME

The result holds config.json and one orbax checkpoint with only the EMA
prior encoder and generator (no discriminator, posterior or optimizer
state), so `load_params('pretrained/NAME')` reads it like any workdir.
"""
import argparse
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from vaegan_jax import checkpoint


def export(workdir: str, output: str) -> int:
  """Writes `output`; returns the exported training step."""
  config = checkpoint.read_config(workdir)
  raw, step = checkpoint.restore_raw(workdir)
  source = raw.get('ema_params', raw['g_params'])
  tree = {'step': np.asarray(step, np.int32),
          'ema_params': {k: source[k] for k in ('prior', 'generator')}}
  checkpoint.write_config(output, config)
  manager = checkpoint.create_manager(output, max_to_keep=1)
  manager.save(step, args=ocp.args.StandardSave(
      jax.tree_util.tree_map(np.asarray, tree)), force=True)
  manager.wait_until_finished()
  return step


def directory_size(path: str) -> int:
  """Total bytes of the files under `path`."""
  return sum(os.path.getsize(os.path.join(root, f))
             for root, _, files in os.walk(path) for f in files)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--output', required=True)
  args = parser.parse_args(argv)
  checkpoint.mute_closed_loop_noise()
  step = export(args.workdir, args.output)
  print(f'exported step {step} to {args.output} '
        f'({directory_size(args.output) / 2**20:.2f} MiB)')


if __name__ == '__main__':
  main()

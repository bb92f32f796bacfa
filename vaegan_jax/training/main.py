"""Trains the VAE-GAN inpainting model (train.py, `vaegan-train`).

  python train.py --config configs/default.py            # CPU, embedded data
  python train.py --config configs/tpu_v3.py             # TPU v3-8, TFDS
  python train.py --config configs/default.py --config.num_steps=100 \\
      --workdir /tmp/run

Re-running the same command resumes from the latest checkpoint in --workdir.
Installed, `vaegan-train --config tpu_v3` names a shipped config.
"""
import importlib.resources
import importlib.util
import os
import re
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from vaegan_jax.run import startup

FLAGS = flags.FLAGS
CONFIGS_DIR = str(importlib.resources.files('vaegan_jax') / 'configs')


def packaged_config(path: str) -> str:
  """`path` if it exists, else the shipped config it names (`tpu_v3`,
  `configs/tpu_v3.py`, with any :ARG kept)."""
  file, sep, arg = path.partition(':')
  if os.path.exists(file):
    return path
  name = os.path.basename(file)
  name = name if name.endswith('.py') else name + '.py'
  shipped = os.path.join(CONFIGS_DIR, name)
  return shipped + sep + arg if os.path.isfile(shipped) else path


config_flags.DEFINE_config_file(
    'config', packaged_config('configs/default.py'),
    'Training config file: a path, or the name of a shipped config '
    '(default, test, tpu_v3, pretrained_64) with an optional :ARG.',
    lock_config=True)
flags.DEFINE_string('workdir', None,
                    'Where checkpoints, logs and samples go '
                    '(default: ./workdirs/<config name>).')
# Multi-process runs (docs/scaling.md).  Cloud TPU pods and SLURM need none
# of these; elsewhere every process gets the same address and count.
flags.DEFINE_string('coordinator_address', None,
                    'host:port of process 0 (or $JAX_COORDINATOR_ADDRESS).')
flags.DEFINE_integer('num_processes', None,
                     'Number of processes (or $JAX_NUM_PROCESSES).')
flags.DEFINE_integer('process_id', None,
                     "This process's id, 0..num_processes-1 "
                     '(or $JAX_PROCESS_ID).')
flags.DEFINE_bool('force_unlock', False,
                  "Take over the workdir's claim even if its holder looks "
                  'alive (only when that run is gone; docs/reliability.md).')


def _resolve_config(argv):
  """argv with --config naming a shipped config where no such file is."""
  out = list(argv)
  for i, arg in enumerate(out):
    if arg in ('--config', '-config') and i + 1 < len(out):
      out[i + 1] = packaged_config(out[i + 1])
    elif re.match(r'^--?config=', arg):
      flag, value = arg.split('=', 1)
      out[i] = f'{flag}={packaged_config(value)}'
  return out


def _config_from_argv(argv):
  """Loads the --config file named in argv (without overrides)."""
  path = os.path.join(CONFIGS_DIR, 'default.py')
  for i, arg in enumerate(argv):
    if arg in ('--config', '-config') and i + 1 < len(argv):
      path = argv[i + 1]
    elif re.match(r'^--?config=', arg):
      path = arg.split('=', 1)[1]
  path, _, arg = path.partition(':')
  spec = importlib.util.spec_from_file_location('_config_file', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def _parse_flags(argv):
  """absl's flag parsing; a misspelt --config.<key> names close valid keys."""
  argv = _resolve_config(argv)
  try:
    return app.parse_flags_with_usage(argv)
  except (AttributeError, KeyError) as error:
    overrides = [re.split(r'[.=]', arg.lstrip('-'), maxsplit=1)[1].split(
        '=')[0] for arg in argv[1:] if re.match(r'^--?(no)?config\.', arg)]
    from vaegan_jax.training import config_lib  # pylint: disable=g-import-not-at-top
    try:
      config_lib.check_paths(overrides, _config_from_argv(argv))
    except ValueError as e:
      sys.stderr.write(f'FATAL Flags parsing error: {e}\n')
      sys.exit(1)
    raise error


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Imported after flag parsing, so that --help is fast.
  # pylint: disable=g-import-not-at-top
  import jax
  from vaegan_jax.run import distributed
  from vaegan_jax.run import workdir_lock
  from vaegan_jax.training import config_lib
  from vaegan_jax.training import faults
  from vaegan_jax.training import train_loop
  # pylint: enable=g-import-not-at-top
  startup.prepare(verbosity_given=FLAGS['verbosity'].present)
  try:
    # Before the first device query: it joins the other processes.
    distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes,
                           FLAGS.process_id)
  except ValueError as e:
    sys.exit(f'Invalid multi-process flags: {e}')
  if jax.process_count() > 1 and jax.default_backend() == 'cpu':
    # Orbax's barriers then use the coordination service, not a gloo
    # collective, which fails when set up while a process is 30 s behind.
    FLAGS.experimental_orbax_use_distributed_barrier = True
  config = FLAGS.config
  workdir = FLAGS.workdir or os.path.join('workdirs', config.name)
  print(f'Training config {config.name!r} in {workdir} (process '
        f'{jax.process_index()} of {jax.process_count()}, '
        f'{jax.local_device_count()} of {jax.device_count()} devices)',
        flush=True)
  try:
    train_loop.train(config, workdir, force_unlock=FLAGS.force_unlock)
  except config_lib.ConfigError as e:
    sys.exit(f'Invalid config: {e}')
  except workdir_lock.Error as e:
    sys.exit(str(e))
  except faults.Interrupted as e:
    print(e, flush=True)
    sys.exit(128 + e.signum)  # What a shell reports for a signal exit.
  if jax.process_index() == 0:
    print(f'Done. Checkpoints, TensorBoard logs and samples are in '
          f'{workdir}', flush=True)


def run():
  """The `vaegan-train` console script."""
  startup.quiet_native_logs()
  app.run(main, flags_parser=_parse_flags)

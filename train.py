"""Trains the VAE-GAN inpainting model.

  python train.py --config configs/default.py            # CPU, embedded data
  python train.py --config configs/tpu_v3.py             # TPU v3-8, TFDS
  python train.py --config configs/default.py --config.num_steps=100 \\
      --workdir /tmp/run

Re-running the same command resumes from the latest checkpoint in --workdir.
"""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # before TF loads

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', 'configs/default.py', 'Training config file.',
    lock_config=True)
flags.DEFINE_string('workdir', None,
                    'Where checkpoints, logs and samples go '
                    '(default: ./workdirs/<config name>).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS['verbosity'].present:
    # Orbax and TF log every save at INFO; keep the terminal readable.
    logging.set_verbosity(logging.WARNING)
  # Import after flag parsing so --help is fast and TF stays off the GPU/TPU.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')
  from vaegan_jax import train_lib  # pylint: disable=g-import-not-at-top

  config = FLAGS.config
  workdir = FLAGS.workdir or os.path.join('workdirs', config.name)
  logging.info('Training %s in %s', config.name, workdir)
  print(f'Training config {config.name!r} in {workdir}', flush=True)
  train_lib.train_and_evaluate(config, workdir)
  print(f'Done. Checkpoints, TensorBoard logs and samples are in {workdir}',
        flush=True)


if __name__ == '__main__':
  app.run(main)

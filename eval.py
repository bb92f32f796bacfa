"""Scores a trained model on held-out images with fixed masks.

  python eval.py --workdir workdirs/default
  python eval.py --workdir workdirs/default --baselines all
  python eval.py --workdir workdirs/default --image_size 128
  python eval.py --workdir pretrained/vaegan64 --folder ~/my_photos

Prints a table per method and hole-ratio bucket (PSNR, SSIM, L1 in the hole,
detail ratio) and the diversity of prior samples; writes eval_<S>px.json and
a PNG grid (masked | each method | truth) to --output_dir (<workdir>/eval).
"""
import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # before TF loads

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Training workdir (or pretrained/<name>).')
flags.DEFINE_integer('image_size', None,
                     'Evaluation size (default: the training size).')
flags.DEFINE_integer('num_masks_per_image', 8, 'Fixed masks per view.')
flags.DEFINE_string('baselines', 'none',
                    "'all', 'none' or a comma list of telea, navier_stokes, "
                    'biharmonic, mean.')
flags.DEFINE_integer('num_samples', 8, 'Prior samples for diversity (0: off).')
flags.DEFINE_string('output_dir', None, 'Default: <workdir>/eval.')
flags.DEFINE_integer('step', None, 'Checkpoint step (default: the latest).')
flags.DEFINE_string('folder', None,
                    'Evaluate on the centre squares of the images in this '
                    'folder instead of the held-out set.')
flags.mark_flag_as_required('workdir')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')
  from etils import epath  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vaegan_jax import baselines  # pylint: disable=g-import-not-at-top
  from vaegan_jax import evaluate  # pylint: disable=g-import-not-at-top
  from vaegan_jax import images  # pylint: disable=g-import-not-at-top

  result = evaluate.run(
      FLAGS.workdir, image_size=FLAGS.image_size,
      num_masks_per_image=FLAGS.num_masks_per_image,
      baselines=baselines.parse_methods(FLAGS.baselines),
      num_samples=FLAGS.num_samples, step=FLAGS.step, folder=FLAGS.folder)
  tag = f"{result['image_size']}px"
  print(f"Held-out evaluation of {FLAGS.workdir} (step {result['step']}, "
        f"{result['num_images']} images at {tag}):")
  print(evaluate.format_table(result))
  # epath: the workdir may be gs://.
  out_dir = epath.Path(FLAGS.output_dir or os.path.join(FLAGS.workdir, 'eval'))
  out_dir.mkdir(parents=True, exist_ok=True)
  tag += f'_step{FLAGS.step}' if FLAGS.step is not None else ''
  tag += '_folder' if FLAGS.folder else ''
  json_path = out_dir / f'eval_{tag}.json'
  json_path.write_text(json.dumps(evaluate.to_json(result), indent=2))
  # One row per example, spread over buckets: masked | methods | truth.
  order = np.argsort(result['per_image'][evaluate.MODEL]['hole_ratio'])
  rows = order[np.linspace(0, len(order) - 1, min(12, len(order))).astype(int)]
  mask = result['mask'][rows]
  columns = ([result['image'][rows] * (1 - mask) + mask]
             + [o[rows] for o in result['outputs'].values()]
             + [result['image'][rows]])
  grid_path = out_dir / f'eval_{tag}.png'
  images.save_png(grid_path, images.make_grid(columns))
  print(f"columns: masked | {' | '.join(result['outputs'])} | truth")
  print(f'wrote {json_path} and {grid_path}')


if __name__ == '__main__':
  app.run(main)

"""Scores a trained model on held-out images with fixed masks.

  python eval.py --workdir workdirs/default
  python eval.py --workdir workdirs/default --image_size 128

Prints a table (PSNR, SSIM, L1 in the hole), writes eval.json and a PNG grid
(masked | output | truth) to --output_dir (default: <workdir>/eval).
"""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # before TF loads

import collections
import json

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Training workdir (or pretrained/<name>).')
flags.DEFINE_integer('image_size', None,
                     'Evaluation size (default: the training size).')
flags.DEFINE_integer('num_masks_per_image', 4, 'Fixed masks per view.')
flags.DEFINE_string('output_dir', None, 'Default: <workdir>/eval.')
flags.mark_flag_as_required('workdir')


def evaluate(workdir, image_size=None, num_masks_per_image=4):
  """Returns (summary, per_image, names, columns for the grid)."""
  from vaegan_jax import checkpoint  # pylint: disable=g-import-not-at-top
  from vaegan_jax import inference  # pylint: disable=g-import-not-at-top
  from vaegan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  from vaegan_jax import metrics  # pylint: disable=g-import-not-at-top

  config = checkpoint.read_config(workdir)
  params = inference.load_params(workdir)
  data = input_pipeline.load_eval_data(
      config, num_masks_per_image=num_masks_per_image, image_size=image_size)
  output = inference.inpaint(params, data['image'], data['mask'] > 0.5)
  per_image = metrics.image_metrics(output, data['image'], data['mask'])
  masked = data['image'] * (1 - data['mask']) + data['mask']
  columns = [masked, output, data['image']]
  summary = {'all': metrics.summarize(per_image), 'step': params.step,
             'image_size': int(data['image'].shape[1]),
             'num_images': len(data['name'])}
  groups = collections.defaultdict(list)
  for i, name in enumerate(data['name']):
    groups[name.split('/')[0]].append(i)
  summary['by_image'] = {
      g: metrics.summarize({k: v[idx] for k, v in per_image.items()})
      for g, idx in sorted(groups.items())}
  return summary, per_image, data['name'], columns


def format_table(summary) -> str:
  rows = [('image', 'n', 'PSNR dB', 'SSIM', 'hole L1', 'hole %')]
  items = list(summary['by_image'].items()) + [('ALL', summary['all'])]
  counts = summary.get('counts', {})
  for name, m in items:
    rows.append((name, str(counts.get(name, summary['num_images'])
                           if name == 'ALL' else counts.get(name, '')),
                 f"{m['psnr']:.2f}", f"{m['ssim']:.4f}",
                 f"{m['hole_l1']:.4f}", f"{100 * m['hole_ratio']:.1f}"))
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
  return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths))
                   for r in rows)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS['verbosity'].present:
    # Orbax and TF log every save at INFO; keep the terminal readable.
    logging.set_verbosity(logging.WARNING)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')
  from vaegan_jax import images  # pylint: disable=g-import-not-at-top

  summary, per_image, names, columns = evaluate(
      FLAGS.workdir, FLAGS.image_size, FLAGS.num_masks_per_image)
  counts = collections.Counter(n.split('/')[0] for n in names)
  summary['counts'] = dict(counts)
  out_dir = FLAGS.output_dir or os.path.join(FLAGS.workdir, 'eval')
  os.makedirs(out_dir, exist_ok=True)
  tag = f"{summary['image_size']}px"
  print(f"Held-out evaluation of {FLAGS.workdir} (step {summary['step']}, "
        f"{summary['num_images']} images at {tag}):")
  print(format_table(summary))
  payload = dict(summary, per_image={
      name: {k: float(v[i]) for k, v in per_image.items()}
      for i, name in enumerate(names)})
  json_path = os.path.join(out_dir, f'eval_{tag}.json')
  with open(json_path, 'w') as f:
    json.dump(payload, f, indent=2)
  grid_path = os.path.join(out_dir, f'eval_{tag}.png')
  images.save_png(grid_path, images.make_grid([c[:12] for c in columns]))
  print(f'wrote {json_path} and {grid_path}')


if __name__ == '__main__':
  app.run(main)

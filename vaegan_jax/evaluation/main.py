"""Scores a trained model on held-out photos with fixed masks.

  python eval.py --workdir workdirs/default
  python eval.py --workdir workdirs/default --baselines all
  python eval.py --workdir workdirs/default --modes 128
  python eval.py --workdir pretrained/vaegan64 --folder ~/my_photos
  python eval.py --workdir W --protocol lama --tfds_name places365_small \\
      --image_size 256 --fid_weights F
  python eval.py --workdir W --fid_weights pt_inception-2015-12-05-6726825d.pth
  python eval.py --workdir W --lpips_weights vgg.pth,vgg16-397923af.pth

Three modes by default: crops at the training size, 256 px crops, and whole
photos at their own size with object-like holes (evaluation/held_out.py).
For each it prints a table per method and hole-ratio bucket (PSNR, SSIM, L1
in the hole, detail ratio, SWD on hole patches, LPIPS, seconds per image;
with --fid_weights also FID, KID, P-IDS, U-IDS) and writes eval_<mode>.json
and a PNG grid (masked | each method | truth) to --output_dir.
Installed, the same is `vaegan-eval`.
"""
import sys

from absl import app
from absl import flags

from vaegan_jax.run import startup

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None,
                    'Training workdir, or a shipped model (pretrained/vaegan64).')
flags.DEFINE_string('modes', '',
                    "Comma list of crop sizes and 'photo' (default: the "
                    "training size, 256, photo).")
flags.DEFINE_integer('image_size', None,
                     'Shorthand for --modes=<image_size>: crops only.')
flags.DEFINE_integer('num_masks_per_image', None,
                     'Fixed masks per view (default: 8 for crops below '
                     '128 px, 1 above).')
flags.DEFINE_string('baselines', 'none',
                    "'all', 'none' or a comma list of telea, navier_stokes, "
                    'biharmonic, mean, shiftmap, patchmatch, oracle, pyramid, '
                    'harmonic.')
flags.DEFINE_integer('photo_max_side', 1024,
                     "'photo' mode: longer photos are downscaled to this.")
flags.DEFINE_integer('num_samples', 8, 'Prior samples for diversity (0: off).')
flags.DEFINE_string('output_dir', None,
                    'Default: <workdir>/eval; for a shipped model '
                    './eval/<name>, never inside the package.')
flags.DEFINE_integer('step', None, 'Checkpoint step (default: the latest).')
flags.DEFINE_string('folder', None,
                    'Evaluate on the images in this folder (centre squares '
                    'and whole photos) instead of the held-out set.')
flags.DEFINE_string('fid_weights', None,
                    "pytorch-fid's Inception weights (.pth or .npz): adds "
                    'FID, KID and P-IDS / U-IDS (docs/evaluation.md).')
flags.DEFINE_string('lpips_weights', None,
                    'Default: the shipped LPIPS-alex weights.  Others: the '
                    "lpips package's lin file and the torchvision backbone, "
                    "comma-separated, or one merged file; 'none': no LPIPS.")
flags.DEFINE_enum('protocol', None, ['lama', 'nvidia'],
                  "A published table's protocol instead of the modes: LaMa's "
                  'thin/medium/thick masks or the NVIDIA hole-ratio buckets '
                  '(evaluation/protocols.py); writes its masks to '
                  '--output_dir.')
flags.DEFINE_integer('protocol_num_images', 2000,
                     '--protocol: images of the evaluation split.')
flags.DEFINE_string('tfds_name', None,
                    'Evaluate on this TFDS dataset (e.g. places365_small); '
                    'its evaluation split.')
flags.DEFINE_string('tfds_data_dir', None,
                    "With --tfds_name: TFDS data_dir (default: the workdir's "
                    'config.data.data_dir); may be gs://.')
flags.mark_flag_as_required('workdir')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # pylint: disable=g-import-not-at-top
  from etils import epath
  from vaegan_jax.evaluation import baselines
  from vaegan_jax.evaluation import common
  from vaegan_jax.evaluation import held_out
  from vaegan_jax.evaluation import network_metrics
  from vaegan_jax.inference import api
  from vaegan_jax.run import config_file
  # pylint: enable=g-import-not-at-top
  startup.prepare(verbosity_given=FLAGS['verbosity'].present)
  workdir = FLAGS.workdir
  shipped = api.shipped_model(workdir)  # its results go to ./eval/<name>
  methods = baselines.parse_methods(FLAGS.baselines)
  config = config_file.read(shipped or workdir)
  modes = held_out.parse_modes(
      str(FLAGS.image_size) if FLAGS.image_size else FLAGS.modes,
      config.image_size)
  if FLAGS.folder:
    config.data.source, config.data.folder = 'folder', FLAGS.folder
    config.data.folder_heldout = 0  # the whole folder is for evaluation
  if FLAGS.tfds_name:
    config.data.source, config.data.tfds_name = 'tfds', FLAGS.tfds_name
    config.data.tfds_eval_split = ''  # the new dataset's own
  if FLAGS.tfds_data_dir:
    config.data.data_dir = FLAGS.tfds_data_dir
  params = api.load_params(shipped or workdir, step=FLAGS.step)
  try:  # weights are read before any long work starts
    scorers = network_metrics.load(FLAGS.fid_weights, FLAGS.lpips_weights)
  except (OSError, ValueError) as e:
    raise app.UsageError(f'Cannot use the metric weights: {e}')
  suffix = (f'_step{FLAGS.step}' if FLAGS.step is not None else '') + (
      '_folder' if FLAGS.folder else '')
  evaluators = common.from_config(
      config, modes=modes, protocol=FLAGS.protocol,
      num_masks_per_image=FLAGS.num_masks_per_image,
      num_samples=FLAGS.num_samples, photo_max_side=FLAGS.photo_max_side,
      protocol_num_images=FLAGS.protocol_num_images,
      image_size=FLAGS.image_size, file_suffix=suffix)
  # epath: the workdir may be gs://.
  out_dir = epath.Path(FLAGS.output_dir or common.output_dir(workdir, shipped))
  out_dir.mkdir(parents=True, exist_ok=True)
  for evaluator in evaluators:
    result = evaluator.run(params, scorers=scorers, baselines=methods)
    print(f'\nEvaluation of {workdir}, {evaluator.report(result)}')
    print('wrote ' + ' and '.join(evaluator.write(result, out_dir)))
    sys.stdout.flush()


def run():
  """The `vaegan-eval` console script."""
  startup.quiet_native_logs()
  app.run(main)

"""Scores a trained model on held-out photos with fixed masks.

  python eval.py --workdir workdirs/default
  python eval.py --workdir workdirs/default --baselines all
  python eval.py --workdir workdirs/default --modes 128
  python eval.py --workdir pretrained/vaegan64 --folder ~/my_photos
  python eval.py --workdir W --protocol lama --tfds_name places365_small \
      --image_size 256 --fid_weights F
  python eval.py --workdir W --fid_weights pt_inception-2015-12-05-6726825d.pth
  python eval.py --workdir W --lpips_weights vgg.pth,vgg16-397923af.pth

Three modes by default: crops at the training size, 256 px crops, and whole
photos at their own size with object-like holes (vaegan_jax/evaluate.py).
For each it prints a table per method and hole-ratio bucket (PSNR, SSIM, L1
in the hole, detail ratio, SWD on hole patches, LPIPS (the shipped
LPIPS-alex weights unless --lpips_weights), seconds per image; with
--fid_weights also FID, KID, P-IDS, U-IDS) and
writes eval_<mode>.json and a PNG grid (masked | each method | truth) to
--output_dir (<workdir>/eval).
"""
import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # before TF loads

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Training workdir (or pretrained/<name>).')
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
flags.DEFINE_string('output_dir', None, 'Default: <workdir>/eval.')
flags.DEFINE_integer('step', None, 'Checkpoint step (default: the latest).')
flags.DEFINE_string('folder', None,
                    'Evaluate on the images in this folder (centre squares '
                    'and whole photos) instead of the held-out set.')
flags.DEFINE_string('fid_weights', None,
                    "pytorch-fid's Inception weights (.pth or .npz): adds "
                    'FID, KID and P-IDS / U-IDS (README, "Evaluation '
                    'metrics").')
flags.DEFINE_string('lpips_weights', None,
                    'Default: the shipped LPIPS-alex weights.  Others: the '
                    "lpips package's lin file and the torchvision backbone, "
                    "comma-separated, or one merged file; 'none': no LPIPS.")
flags.DEFINE_enum('protocol', None, ['lama', 'nvidia'],
                  "A published table's protocol instead of the modes: LaMa's "
                  'thin/medium/thick masks or the NVIDIA hole-ratio buckets '
                  '(vaegan_jax/protocols.py); writes its masks to '
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
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  # pylint: disable=g-import-not-at-top
  from etils import epath
  from vaegan_jax import baselines
  from vaegan_jax import checkpoint
  from vaegan_jax import evaluate
  from vaegan_jax import image_io
  from vaegan_jax import inference
  from vaegan_jax import input_pipeline
  from vaegan_jax import perceptual
  from vaegan_jax import protocols
  # pylint: enable=g-import-not-at-top
  input_pipeline.keep_tf_on_host()
  checkpoint.mute_closed_loop_noise()

  methods = baselines.parse_methods(FLAGS.baselines)
  config = checkpoint.read_config(FLAGS.workdir)
  modes = evaluate.parse_modes(
      str(FLAGS.image_size) if FLAGS.image_size else FLAGS.modes,
      config.image_size)
  if FLAGS.folder:
    config.data.source, config.data.folder = 'folder', FLAGS.folder
  if FLAGS.tfds_name:
    config.data.source, config.data.tfds_name = 'tfds', FLAGS.tfds_name
    config.data.tfds_eval_split = ''  # the new dataset's own
  if FLAGS.tfds_data_dir:
    config.data.data_dir = FLAGS.tfds_data_dir
  params = inference.load_params(FLAGS.workdir, step=FLAGS.step)
  try:  # weights are read before any long work starts
    scorers = perceptual.load(FLAGS.fid_weights, FLAGS.lpips_weights)
  except (OSError, ValueError) as e:
    raise app.UsageError(f'Cannot use the metric weights: {e}')
  # epath: the workdir may be gs://.
  out_dir = epath.Path(FLAGS.output_dir or os.path.join(FLAGS.workdir, 'eval'))
  out_dir.mkdir(parents=True, exist_ok=True)
  if FLAGS.protocol:
    size = FLAGS.image_size or 256
    proto_dir = out_dir / f'protocol_{FLAGS.protocol}_{size}'
    proto_dir.mkdir(parents=True, exist_ok=True)
    result = protocols.run(
        params, config, FLAGS.protocol,
        num_images=FLAGS.protocol_num_images, image_size=size,
        scorers=scorers, baselines=methods, out_dir=str(proto_dir))
    print(f"\n{FLAGS.protocol} protocol, {size} px, "
          f"{result['num_images']} images, {FLAGS.workdir} "
          f"(step {params.step})")
    print(protocols.format_table(result))
    (proto_dir / 'results.json').write_text(json.dumps(result, indent=2))
    print(f'wrote {proto_dir}/results.json and its masks')
    return
  for mode in modes:
    result = evaluate.run_mode(
        params, config, mode, baselines=methods,
        num_masks_per_image=FLAGS.num_masks_per_image,
        num_samples=FLAGS.num_samples, photo_max_side=FLAGS.photo_max_side,
        scorers=scorers)
    tag = result['mode']
    print(f"\nHeld-out evaluation of {FLAGS.workdir} (step {params.step}), "
          f"{tag}: {result['num_images']} images")
    print(evaluate.format_table(result))
    print(evaluate.format_targets(result))
    tag += f'_step{FLAGS.step}' if FLAGS.step is not None else ''
    tag += '_folder' if FLAGS.folder else ''
    json_path = out_dir / f'eval_{tag}.json'
    json_path.write_text(json.dumps(dict(evaluate.to_json(result),
                                         step=params.step), indent=2))
    grid_path = out_dir / f'eval_{tag}.png'
    image_io.save_png(grid_path, image_io.make_grid(evaluate.grid_rows(result)))
    print(f"columns: masked | {' | '.join(result['outputs'])} | truth")
    print(f'wrote {json_path} and {grid_path}')


if __name__ == '__main__':
  app.run(main)

"""vaegan-inpaint: fill the holes of an image file with a trained model.

  vaegan-inpaint photo.jpg mask.png -o filled.png
  vaegan-inpaint photo.jpg mask.png -o samples.png --num_samples 4 --seed 1
  vaegan-inpaint photo.jpg mask.png -o filled.png --workdir workdirs/default
  vaegan-inpaint photos/ masks/ -o out/   # a folder: out/<stem>.png each
  vaegan-inpaint serve      # a local web page: paint the hole, pick a fill

The mask is an image of the photo's size: white (or 1 in a 0/1 label image)
marks the hole, black the pixels to keep.  A folder of photos pairs each
with the mask of the same file stem in the mask folder (or uses one mask
file for all), in one process; results that exist are skipped unless
--overwrite, and a photo that fails is reported and skipped.  From a
checkout the same command is `python -m vaegan_jax.inference`.
"""
import argparse
import os
import sys
import warnings

from vaegan_jax.run import startup

_EPILOG = """\
Without --workdir the shipped model (pretrained/vaegan64) fills the hole.
The first run compiles the model (about 10-30 s on a CPU); compiled code is
kept in ~/.cache/vaegan_jax/jax (or $JAX_COMPILATION_CACHE_DIR), so later
runs of the same sizes start in a few seconds.
"""


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='vaegan-inpaint', description=__doc__.split('\n\n', 1)[1].strip('\n'),
      epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('image', nargs='?', help='the photo (any format PIL '
                      'reads: PNG, JPEG, WebP, ...), or a folder of photos')
  parser.add_argument('mask', nargs='?', help='the mask image: white = '
                      'hole; for a folder of photos, a folder of masks '
                      'named like them (or one mask for all)')
  parser.add_argument('-o', '--output', help='where the result goes (PNG '
                      'unless the extension names another format); for a '
                      'folder of photos, the folder of results')
  parser.add_argument('--overwrite', action='store_true',
                      help='folders: redo results that exist (else they '
                      'are skipped, so a re-run does only the rest)')
  parser.add_argument('--image', dest='image_flag', metavar='IMAGE',
                      help='same as the first argument')
  parser.add_argument('--mask', dest='mask_flag', metavar='MASK',
                      help='same as the second argument')
  parser.add_argument('--workdir', default=None,
                      help='a training workdir or exported model (default: '
                      'the shipped pretrained/vaegan64)')
  parser.add_argument('--num_samples', type=int, default=None, metavar='K',
                      help='K different fills from the prior instead of the '
                      'single best one, tiled side by side into one image')
  parser.add_argument('--seed', type=int, default=None,
                      help='random seed of the samples (needs --num_samples; '
                      'default 0)')
  parser.add_argument('--fidelity', action='store_true',
                      help='the fill best under PSNR/SSIM (no copied texture)')
  parser.add_argument('--texture', choices=('patches', 'network'),
                      default='patches',
                      help="'patches': the photo's own patches at every "
                      "scale, guided by the model (default); 'network': the "
                      "model's output at every scale")
  return parser


def fail(message: str):
  """One line on stderr, exit status 2 (as argparse's usage errors)."""
  print(f'vaegan-inpaint: error: {message}', file=sys.stderr)
  sys.exit(2)


def _check_args(parser, args):
  """Every check that needs no model; errors exit 2 with one line."""
  for name in ('image', 'mask'):
    flag = getattr(args, f'{name}_flag')
    if flag and getattr(args, name):
      parser.error(f'{name} given twice (argument and --{name})')
    setattr(args, name, getattr(args, name) or flag)
  if not args.image or not args.mask or not args.output:
    parser.error('needs IMAGE, MASK and -o OUTPUT '
                 '(e.g. vaegan-inpaint photo.jpg mask.png -o filled.png)')
  if args.num_samples is not None and args.num_samples < 1:
    parser.error(f'--num_samples must be >= 1, got {args.num_samples}')
  if args.seed is not None and args.num_samples is None:
    parser.error('--seed only applies to samples; add --num_samples K')
  if os.path.isdir(args.image):
    if not os.path.exists(args.mask):
      fail(f'mask folder or file not found: {args.mask}')
    if os.path.exists(args.output) and not os.path.isdir(args.output):
      fail(f'{args.output} is a file; a folder of photos needs an output '
           'folder')
  elif args.overwrite:
    parser.error('--overwrite applies to folders of photos')
  out_dir = os.path.dirname(os.path.abspath(args.output.rstrip('/\\')))
  if not os.path.isdir(out_dir):
    fail(f'output directory {out_dir} does not exist')


def _read_inputs(args):
  """Reads image and mask, or exits 2 with one line saying what is wrong."""
  from PIL import Image, UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  from vaegan_jax.run import image_io  # pylint: disable=g-import-not-at-top
  arrays = []
  for what, path, read in (('image', args.image, image_io.read_image),
                           ('mask', args.mask, image_io.read_mask)):
    if not os.path.isfile(path):
      fail(f'{what} file not found: {path}')
    try:
      arrays.append(read(path))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError,
            ValueError) as e:
      fail(f'cannot read {what} {path}: {e}')
  image, mask = arrays
  if mask.shape != image.shape[:2]:
    fail(f'mask {args.mask} is {mask.shape[1]}x{mask.shape[0]} px but '
                 f'image {args.image} is {image.shape[1]}x{image.shape[0]}; '
                 'they must be the same size')
  return image, mask


def main(argv=None):
  startup.quiet_native_logs()
  startup.quick_cpu_compile()
  argv = sys.argv[1:] if argv is None else list(argv)
  if argv[:1] == ['serve']:
    from vaegan_jax.inference import serve  # pylint: disable=g-import-not-at-top
    return serve.main(argv[1:])
  parser = build_parser()
  args = parser.parse_args(argv)
  _check_args(parser, args)
  if os.path.isdir(args.image):
    return _fill_folder(args)
  image, mask = _read_inputs(args)
  # pylint: disable=g-import-not-at-top
  from vaegan_jax.inference import api
  from vaegan_jax.run import image_io
  # pylint: enable=g-import-not-at-top
  startup.prepare(uses_tf=False)
  startup.use_compile_cache()
  params = _load(api, args)
  try:
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always', UserWarning)
      out = _fill(api, params, image, mask, args)
  except (ValueError, MemoryError) as e:
    fail(str(e))
  for w in caught:
    print(f'warning: {w.message}', file=sys.stderr)
  image_io.save_png(args.output, out)
  print(f'wrote {args.output}')
  return 0


def _load(api, args):
  try:
    return api.load_params(args.workdir)
  except (OSError, ValueError) as e:
    fail(f'cannot load the model: {e}')


def _fill_folder(args) -> int:
  """`vaegan-inpaint photos/ masks/ -o out/`: exit 1 if any photo failed."""
  # pylint: disable=g-import-not-at-top
  from vaegan_jax.inference import api
  from vaegan_jax.inference import folder
  from vaegan_jax.run import image_io
  # pylint: enable=g-import-not-at-top
  try:
    items, notes = folder.pair(args.image, args.mask, args.output)
  except (OSError, ValueError) as e:
    fail(str(e))
  for note in notes:
    print(f'warning: {note}', file=sys.stderr)
  startup.prepare(uses_tf=False)
  startup.use_compile_cache()
  params = _load(api, args)
  os.makedirs(args.output, exist_ok=True)

  def read(item):
    image = image_io.read_image(item.image)
    mask = image_io.read_mask(item.mask)
    if mask.shape != image.shape[:2]:
      raise ValueError(f'mask {item.mask} is {mask.shape[1]}x{mask.shape[0]}'
                       f' px but the photo is {image.shape[1]}x'
                       f'{image.shape[0]}')
    return image, mask

  def fill(image, mask):
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always', UserWarning)
      out = _fill(api, params, image, mask, args)
    for w in caught:
      print(f'warning: {w.message}', file=sys.stderr)
    return out

  def error(line):
    print(f'vaegan-inpaint: error: {line}', file=sys.stderr, flush=True)

  print(f'{len(items)} photos in {args.image} -> {args.output}', flush=True)
  summary = folder.run(items, fill, read=read, save=image_io.save_png,
                       overwrite=args.overwrite,
                       report=lambda line: print(line, flush=True),
                       error=error)
  print(f'done: {summary.written} written, {summary.skipped} skipped '
        f'(done before), {summary.failed} failed', flush=True)
  if summary.failed:
    error(f'{summary.failed} of {len(items)} photos failed (lines above)')
    return 1
  return 0


def _fill(api, params, image, mask, args):
  """The default fill, or the samples side by side."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  if not args.num_samples:
    return api.inpaint(params, image, mask, fidelity=args.fidelity,
                       texture=args.texture)
  out = api.inpaint(params, image, mask, num_samples=args.num_samples,
                    rng=jax.random.PRNGKey(args.seed or 0),
                    fidelity=args.fidelity, texture=args.texture)
  return np.concatenate(list(out), axis=1)  # samples side by side


if __name__ == '__main__':
  sys.exit(main())

"""A picture of whole-photo fills: held-out photos, cropped around the hole.

  python examples/photo_grid.py                       # docs/eval/photo_grid.jpg
  python examples/photo_grid.py --workdir W --photos 12 --output grid.jpg

Columns: masked | default fill | two prior samples | PatchMatch | shift-map |
truth, each a window of --window px around the hole at full resolution
(photos' long side <= 1024, their fixed object holes, as in eval.py's photo
mode).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import numpy as np

from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import baselines
from vaegan_jax.inference import api
from vaegan_jax.run import config_file
from vaegan_jax.run import image_io

COLUMNS = ('masked', 'default', 'sample 1', 'sample 2', 'PatchMatch',
           'shift-map', 'truth')


def window(hole: np.ndarray, size: int):
  """A size x size box (clipped to the photo) centred on the hole."""
  h, w = hole.shape
  size = min(size, h, w)
  ys, xs = np.nonzero(hole)
  y0 = int(np.clip((ys.min() + ys.max()) // 2 - size // 2, 0, h - size))
  x0 = int(np.clip((xs.min() + xs.max()) // 2 - size // 2, 0, w - size))
  return slice(y0, y0 + size), slice(x0, x0 + size)


def row(params, image, hole, size: int, seed: int):
  """(The columns of one photo, each [size, size, 3] in [0, 1]; the mean
  hole L1 between its two samples)."""
  samples = api.inpaint(params, image, hole, num_samples=2,
                              rng=jax.random.PRNGKey(seed))
  diversity = float(np.abs(samples[0] - samples[1])[hole].mean())
  outs = [np.where(hole[..., None], 1.0, image),
          api.inpaint(params, image, hole), samples[0], samples[1]]
  outs += [baselines.inpaint_classical(m, [image], [hole])[0]
           for m in ('patchmatch', 'shiftmap')]
  outs.append(image)
  box = window(hole, size)
  cells = []
  for o in outs:
    cell = np.ones((size, size, 3), np.float32)
    crop = o[box]
    cell[:crop.shape[0], :crop.shape[1]] = crop
    cells.append(cell)
  return np.concatenate(cells, axis=1), diversity


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default=os.path.join(
      api.PRETRAINED_DIR, api.DEFAULT_MODEL))
  parser.add_argument('--photos', type=int, default=8)
  parser.add_argument('--window', type=int, default=256)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--output', default=os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs',
      'eval', 'photo_grid.jpg'))
  args = parser.parse_args(argv)
  params = api.load_params(args.workdir)
  data = eval_sets.load_eval_photos(config_file.read(args.workdir))
  rows, diversity = [], []
  for i, (image, mask, name) in enumerate(zip(data['image'], data['mask'],
                                              data['name'])):
    if i >= args.photos:
      break
    print(f'{name} {image.shape[0]}x{image.shape[1]}', flush=True)
    cells, div = row(params, image, mask[..., 0] > 0.5, args.window,
                     args.seed)
    rows.append(cells)
    diversity.append(div)
  image_io.save_png(args.output, np.concatenate(rows, axis=0))
  print(f"wrote {args.output}: {' | '.join(COLUMNS)}")
  print(f'diversity (mean hole L1 between the two samples): '
        f'{np.mean(diversity):.4f} over {len(rows)} photos')


if __name__ == '__main__':
  main()

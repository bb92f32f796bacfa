"""The shipped model: it loads, the CLI uses it, its fills carry texture."""
import pathlib

import numpy as np
import pytest

from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import baselines
from vaegan_jax.evaluation import metrics
from vaegan_jax.inference import api
from vaegan_jax.inference import cli
from vaegan_jax.run import config_file

PRETRAINED = pathlib.Path(api.PRETRAINED_DIR)
MODEL = PRETRAINED / api.DEFAULT_MODEL


@pytest.fixture(scope='module')
def held_out():
  config = config_file.read(str(MODEL))
  data = eval_sets.load_eval_data(config, num_masks_per_image=4)
  ratio = data['mask'].mean(axis=(1, 2, 3))
  pick = np.nonzero((ratio >= 0.4) & (ratio < 0.6))[0][::2]
  return data['image'][pick], data['mask'][pick]


@pytest.mark.heavy
def test_shipped_model_is_small_and_loads():
  size = sum(f.stat().st_size for f in MODEL.rglob('*') if f.is_file())
  assert size <= 20 * 2**20, size
  params = api.load_params(str(MODEL))
  image = np.random.default_rng(0).uniform(size=(40, 56, 3)).astype(
      np.float32)
  mask = np.zeros((40, 56), bool)
  mask[10:30, 20:40] = True
  out = api.inpaint(params, image, mask)
  assert out.shape == image.shape and np.isfinite(out).all()
  np.testing.assert_array_equal(out[~mask], image[~mask])


@pytest.mark.heavy
def test_shipped_model_meets_the_targets_on_large_holes(held_out):
  # What holds for the shipped model (docs/quality.md) on held-out 64 px crops
  # with 40-60% holes (58 of them; all 228: SWD 57.9 vs shift-map 62.6):
  # more realistic than biharmonic's smooth fill and than shift-map (lower
  # SWD on hole patches) for less than 2.5 dB of PSNR, and a fidelity
  # output 0.5 dB above biharmonic.  Not true in every bucket (20-40%: SWD
  # 51.1 vs shift-map 44.2), nor at 256 px or on whole photos.
  image, mask = held_out
  assert len(image) >= 40
  params = api.load_params(str(MODEL))
  holes = mask[..., 0] > 0.5
  outputs = {'ours': api.inpaint(params, image, holes),
             'fidelity': api.inpaint(params, image, holes,
                                           fidelity=True)}
  for name in ('biharmonic', 'shiftmap'):
    outputs[name] = baselines.inpaint_classical(name, image, mask)
  truth = metrics.hole_patches(image, mask)
  scores = {}
  for name, out in outputs.items():
    scores[name] = metrics.summarize(metrics.image_metrics(out, image, mask))
    scores[name].update(metrics.swd(metrics.hole_patches(out, mask), truth))
  ours, bih = scores['ours'], scores['biharmonic']
  assert ours['swd'] < 0.9 * scores['shiftmap']['swd'], scores
  assert ours['swd'] < 0.5 * bih['swd'], scores
  assert ours['detail_ratio'] > 5 * bih['detail_ratio'], scores
  assert ours['psnr'] >= bih['psnr'] - 2.5, scores
  assert scores['fidelity']['psnr'] >= bih['psnr'] + 0.5, scores
  assert scores['fidelity']['ssim'] >= bih['ssim'], scores


@pytest.mark.heavy
def test_cli_uses_the_shipped_model_without_workdir(tmp_path):
  from vaegan_jax.run import image_io  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  image = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
  mask = np.zeros((30, 45), np.uint8)
  mask[5:20, 10:30] = 255
  image_io.save_png(str(tmp_path / 'in.png'), image)
  image_io.save_png(str(tmp_path / 'mask.png'), mask[..., None].repeat(3, -1))
  cli.main(['--image', str(tmp_path / 'in.png'), '--mask',
                  str(tmp_path / 'mask.png'), '--output',
                  str(tmp_path / 'out.png')])
  out = image_io.read_image(str(tmp_path / 'out.png'))
  assert out.shape == image.shape
  np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
  assert (out[mask > 0] != image[mask > 0]).any()
  cli.main(['--image', str(tmp_path / 'in.png'), '--mask',
                  str(tmp_path / 'mask.png'), '--output',
                  str(tmp_path / 'smooth.png'), '--fidelity'])
  smooth = image_io.read_image(str(tmp_path / 'smooth.png'))
  np.testing.assert_array_equal(smooth[mask == 0], image[mask == 0])
  # No copied texture: far less gradient energy in the hole.
  hole = (mask > 0)[None]
  energy = lambda x: metrics.gradient_energy(x[None] / 255.0, hole)[0]  # pylint: disable=unnecessary-lambda-assignment
  assert energy(smooth) < 0.7 * energy(out), (energy(smooth), energy(out))

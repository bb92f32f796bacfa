"""The evaluator training runs: fixed set, pmapped fill, honest scores."""
import cv2
import flax
import jax
import numpy as np
import pytest

from tests.conftest import unzero_kernels
from vaegan_jax.configs import default
from vaegan_jax.configs import test as test_config
from vaegan_jax.evaluation import common
from vaegan_jax.evaluation import during_training
from vaegan_jax.training import train_lib


@pytest.fixture(scope='module')
def evaluator():
  return common.by_name('during_training', default.get_config(),
                        num_images=16)


def _composite(ev, fill):
  return np.where(ev.masks > 0.5, fill, ev.images).astype(np.float32)


def test_the_set_is_fixed_and_held_out(evaluator):
  again = during_training.DuringTraining(default.get_config(), num_images=16)
  np.testing.assert_array_equal(again.images, evaluator.images)
  np.testing.assert_array_equal(again.masks, evaluator.masks)
  assert evaluator.images.shape == (16, 64, 64, 3)
  assert all(n.split('/')[0] not in ('', None) for n in evaluator.names)
  from vaegan_jax.data import input_pipeline  # pylint: disable=g-import-not-at-top
  trained = set(input_pipeline.embedded_names('train'))
  assert not trained & {n.split('/')[0] for n in evaluator.names}


def test_truth_beats_blur_and_noise_on_every_score(evaluator):
  ev = evaluator
  blur = _composite(ev, np.stack([cv2.GaussianBlur(x, (0, 0), 3)
                                  for x in ev.images]))
  noise = _composite(ev, np.random.default_rng(0).random(ev.images.shape))
  flat = _composite(ev, ev.images.mean(axis=(1, 2), keepdims=True))
  truth = ev.score(ev.images)
  assert truth['hole_l1'] == 0 and truth['lpips'] < 1e-6
  scores = {name: ev.score(x) for name, x in
            (('blur', blur), ('noise', noise), ('flat', flat))}
  for name, s in scores.items():
    assert s['hole_l1'] > 0.01 and s['lpips'] > truth['lpips'] + 0.005, name
    assert s['swd'] > truth['swd'] + 1, (name, s['swd'], truth['swd'])
    assert s['psnr'] < 60, name
  # Blur keeps the colours (PSNR) but loses the texture (SWD); a flat
  # colour loses both.
  assert scores['flat']['swd'] > scores['blur']['swd'] > truth['swd']
  assert scores['blur']['psnr'] > scores['noise']['psnr']
  with pytest.raises(ValueError, match='best_metric'):
    during_training.best_mode('fid')
  assert during_training.best_mode('psnr') == 'max'
  assert during_training.best_mode('lpips') == 'min'


def test_the_pmapped_fill_is_the_models_fill_on_one_device():
  config = test_config.get_config()
  _, _, _, state = train_lib.create_train_state(config, jax.random.PRNGKey(0))
  params = unzero_kernels({k: state.ema_params[k]
                           for k in ('prior', 'generator')})
  ev = during_training.DuringTraining(config, num_images=5)  # 5 on 8 devices
  assert jax.local_device_count() == 8
  out = ev.fill(flax.jax_utils.replicate(params))
  net = ev._inpainter  # pylint: disable=protected-access
  ref = net.apply({'params': params}, ev.images * 2.0 - 1.0, ev.masks, None,
                  method='complete')
  ref = np.where(ev.masks > 0.5, (np.asarray(ref) + 1.0) / 2.0, ev.images)
  np.testing.assert_allclose(out, ref, atol=1e-5)
  assert out.shape == (5, 16, 16, 3)
  np.testing.assert_array_equal(out[ev.masks[..., 0] < 0.5],
                                ev.images[ev.masks[..., 0] < 0.5])
  result = ev.run(flax.jax_utils.replicate(params))
  assert set(during_training.SCORES) <= set(result) and result['n'] == 5
  assert np.isfinite(result['lpips'])  # 16 px: scored at LPIPS's 31 px

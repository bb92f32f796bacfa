"""Config errors: caught before anything compiles, saying how to fix them."""
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, xla_flags
from vaegan_jax.configs import default
from vaegan_jax.configs import test as test_config
from vaegan_jax.training import config_lib
from vaegan_jax.training import train_loop


def _error(fn, *args, **kwargs):
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  return str(info.value)


@pytest.mark.parametrize('path,suggestion', [
    ('num_stpes', "'num_steps'"),
    ('modle.vae.num_down', "'model.vae.num_down'"),
    ('model.vae.num_dwn', "'model.vae.num_down'"),
    ('optim.glr', "'optim.g_lr'"),
    ('masks.min_ratios', "'masks.min_ratio'"),
])
def test_misspelt_keys_name_close_valid_keys(path, suggestion):
  msg = _error(config_lib.check_paths, [path], default.get_config())
  assert repr(path) in msg and suggestion in msg and 'did you mean' in msg


def test_unknown_key_without_close_match_lists_valid_keys():
  msg = _error(config_lib.check_paths, ['zzz'], default.get_config())
  assert 'valid keys' in msg and 'model.vae.num_down' in msg
  config_lib.check_paths(['model.vae.num_down', 'model', 'seed'],
                         default.get_config())


def test_config_file_keys_checked_against_the_defaults():
  config = test_config.get_config()
  config_lib.check_keys(config, default.get_config())
  config.model.vae.num_dwon = 3
  msg = _error(config_lib.check_keys, config, default.get_config())
  assert "'model.vae.num_dwon'" in msg and "'model.vae.num_down'" in msg
  config = test_config.get_config()
  del config.masks['box']
  assert 'masks.box' in _error(config_lib.check_keys, config,
                               default.get_config())


def _config(**changes):
  config = test_config.get_config()
  for path, value in changes.items():
    *parents, leaf = path.split('__')
    node = config
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


@pytest.mark.parametrize('changes,devices,expected', [
    (dict(batch_size=6), 4, 'multiple of 4, e.g. 8'),
    (dict(batch_size=0), 1, 'batch_size=0'),
    (dict(image_size=18), 1, '--config.image_size=16'),
    (dict(image_size=2), 1, 'size multiple 4'),
    (dict(masks__min_ratio=0.9, masks__max_ratio=0.2), 1,
     'min_ratio <= max_ratio'),
    (dict(masks__min_ratio=0.001, masks__max_ratio=0.002), 1,
     'widen config.masks.min_ratio..max_ratio'),
    (dict(masks__free_form=0., masks__thin=0., masks__medium=0.,
          masks__thick=0., masks__box=0.), 1, 'weight > 0'),
    (dict(masks__box=-1.), 1, '>= 0'),
    (dict(optim__g_lr=0.), 1, '--config.optim.g_lr'),
    (dict(optim__d_lr=float('nan')), 1, '--config.optim.d_lr'),
    (dict(optim__ema_decay=1.0), 1, 'optim.ema_decay'),
    (dict(optim__schedule='linear'), 1, "'constant', 'cosine'"),
    (dict(data__source='folder'), 1, '--config.data.folder'),
    (dict(data__source='tfds'), 1, '--config.data.tfds_name'),
    (dict(data__source='s3'), 1, 'data.source'),
    (dict(data__min_crop_scale=0.), 1, 'data.min_crop_scale'),
    (dict(data__max_crop_scale=0.1), 1, 'data.max_crop_scale'),
    (dict(model__dtype='float8'), 1, 'model.dtype'),
    (dict(loss__adv_kind='wgan'), 1, 'loss.adv_kind'),
    (dict(loss__weights__kl=-1.), 1, 'loss.weights.kl'),
    (dict(loss__weights__typo=1.), 1, "loss.weights ['typo'] name no loss"),
    (dict(model__inpainter='vae', model__vae__initial_fill='magic'), 1,
     'initial_fill'),
    (dict(model__inpainter='unet9'), 1, 'not a registered network'),
    (dict(init_from='/nonexistent/run'), 1, 'init_from'),
    (dict(max_nonfinite_skips=0), 1, '--config.max_nonfinite_skips'),
    (dict(keep_checkpoints=0), 1, 'keep_checkpoints'),
])
def test_validate_says_how_to_fix(changes, devices, expected):
  msg = _error(config_lib.validate, _config(**changes),
               num_local_devices=devices)
  assert expected in msg, msg


def test_batch_must_split_over_every_process():
  msg = _error(config_lib.validate, _config(batch_size=8),
               num_local_devices=2, process_count=3)
  assert 'multiple of the 6 devices' in msg, msg


def test_training_validates_before_compiling(tmp_path, monkeypatch):
  def compile_state(*args, **kwargs):
    raise AssertionError('compiled before validating')
  monkeypatch.setattr(train_loop.train_lib, 'create_train_state',
                      compile_state)
  with pytest.raises(ValueError, match='image_size'):
    train_loop.train(_config(image_size=18), str(tmp_path))
  # The keys too, when train() is called from Python (not only train.py).
  config = _config()
  config.model.vae.num_dwon = 3
  with pytest.raises(config_lib.ConfigError, match="'model.vae.num_down'"):
    train_loop.train(config, str(tmp_path))
  assert not os.listdir(tmp_path)


@pytest.mark.heavy
def test_train_py_rejects_bad_flags_before_training(tmp_path):
  env = dict(os.environ, XLA_FLAGS=xla_flags(2),
             JAX_PLATFORMS='cpu')
  for args, expected in [
      (['--config.modle.vae.num_dwn=3'], "did you mean 'model.vae.num_down'"),
      (['--config.batch_size=7'], 'multiple of 2'),
  ]:
    start = time.time()
    proc = subprocess.run(
        [sys.executable, 'train.py', '--config', 'configs/test.py',
         '--workdir', str(tmp_path / 'run'), *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr and 'Traceback' not in proc.stderr
    assert time.time() - start < 120
  assert not os.path.exists(tmp_path / 'run')


def test_a_loss_term_without_a_weight_is_an_error():
  config = test_config.get_config()
  del config.loss.weights['prior_hole']
  msg = _error(config_lib.validate, config)
  assert "['prior_hole'] have no weight" in msg, msg

"""orbax save -> restore is exact; keep N; config round trip; bad workdirs;
NaN, disk-full and damaged checkpoints."""
import errno
import glob
import json
import os
import resource
import shutil
import signal

import jax
import numpy as np
import pytest

from vaegan_jax.configs import test as test_config
from vaegan_jax.inference import api
from vaegan_jax.run import checkpoint
from vaegan_jax.run import config_file
from vaegan_jax.training import train_lib


def _state(seed):
  config = test_config.get_config()
  return config, train_lib.create_train_state(config, jax.random.PRNGKey(seed))[3]


@pytest.mark.heavy
def test_save_restore_exact_and_keep_n(tmp_path):
  config, state = _state(0)
  manager = checkpoint.create_manager(str(tmp_path), max_to_keep=2)
  for step in (1, 2, 3):
    perturbed = jax.tree_util.tree_map(lambda x: x + step, state)
    perturbed = perturbed.replace(step=np.asarray(step, np.int32))
    assert checkpoint.save(manager, perturbed)
  manager.wait_until_finished()
  assert manager.all_steps() == [2, 3]
  _, target = _state(1)   # different values, same structure
  restored, step = checkpoint.restore_latest(
      checkpoint.create_manager(str(tmp_path)), target)
  assert step == 3 and int(restored.step) == 3
  expected = jax.tree_util.tree_map(lambda x: x + 3, state)
  for a, b in zip(jax.tree_util.tree_leaves(restored.replace(step=0)),
                  jax.tree_util.tree_leaves(expected.replace(step=0))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  raw, raw_step = checkpoint.restore_raw(str(tmp_path))
  assert raw_step == 3
  np.testing.assert_array_equal(
      raw['ema_params']['generator']['Conv_0']['kernel'],
      np.asarray(restored.ema_params['generator']['Conv_0']['kernel']))
  del config


def test_restore_latest_without_checkpoint_returns_target(tmp_path):
  _, state = _state(0)
  got, step = checkpoint.restore_latest(
      checkpoint.create_manager(str(tmp_path)), state)
  assert got is state and step == 0


def test_config_round_trip_and_errors(tmp_path):
  config = test_config.get_config()
  config_file.write(str(tmp_path), config)
  again = config_file.read(str(tmp_path))
  assert again.model.vae.num_down == config.model.vae.num_down
  assert tuple(again.model.vae.dilations) == tuple(config.model.vae.dilations)
  with pytest.raises(FileNotFoundError, match='does not exist'):
    config_file.read(str(tmp_path / 'missing'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(FileNotFoundError, match='config.json'):
    config_file.read(str(tmp_path / 'empty'))
  with pytest.raises(FileNotFoundError, match='checkpoint'):
    checkpoint.restore_raw(str(tmp_path))
  path = os.path.join(str(tmp_path), config_file.NAME)
  with open(path) as f:
    payload = json.load(f)
  payload['format_version'] = 999
  with open(path, 'w') as f:
    json.dump(payload, f)
  with pytest.raises(ValueError, match='format'):
    config_file.read(str(tmp_path))


def _saved_states(tmp_path, steps=(1, 2)):
  _, state = _state(0)
  manager = checkpoint.create_manager(str(tmp_path))
  states = {}
  for step in steps:
    states[step] = jax.tree_util.tree_map(
        lambda x: x + step, state).replace(step=np.asarray(step, np.int32))
    checkpoint.save(manager, states[step])
  return manager, states


def _assert_restores(tmp_path, step, expected):
  # Into a zeroed target: restoring must bring the saved values back, not
  # hand the target through.
  target = jax.tree_util.tree_map(np.zeros_like, expected)
  restored, got = checkpoint.restore_latest(
      checkpoint.create_manager(str(tmp_path)), target)
  assert got == step
  for a, b in zip(jax.tree_util.tree_leaves(restored),
                  jax.tree_util.tree_leaves(expected)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_non_finite_state_is_never_saved(tmp_path):
  manager, states = _saved_states(tmp_path, steps=(1,))
  bad = states[1].replace(step=np.asarray(2, np.int32))
  bad = bad.replace(ema_params=jax.tree_util.tree_map(
      lambda x: x * np.nan, bad.ema_params))
  with pytest.raises(ValueError, match=r'Refusing to save step 2.*ema_params'):
    checkpoint.save(manager, bad)
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['1']


# Orbax's aborted reads and writes leave 'Event loop is closed' reports.
_NOISE = pytest.mark.filterwarnings(
    'ignore::pytest.PytestUnraisableExceptionWarning')


@_NOISE
def test_disk_full_keeps_earlier_checkpoints(tmp_path, monkeypatch):
  manager, states = _saved_states(tmp_path)
  third = states[2].replace(step=np.asarray(3, np.int32))
  # Checked before writing: not enough free space.
  usage = shutil.disk_usage(str(tmp_path))
  monkeypatch.setattr(checkpoint.shutil, 'disk_usage',
                      lambda path: usage._replace(free=1000))
  with pytest.raises(OSError, match=r'Not enough disk space.*0\.0 MiB free.*'
                     r'steps \[1, 2\]\) are intact') as info:
    checkpoint.save(manager, third)
  assert info.value.errno == errno.ENOSPC
  monkeypatch.undo()
  # A write that fails half way (a real one: the file size limit).
  previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
  limits = resource.getrlimit(resource.RLIMIT_FSIZE)
  resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, limits[1]))
  try:
    with pytest.raises(OSError, match=r'Could not write checkpoint step 3.*'
                       r'File too large.*file-size limit.*'
                       r'steps \[1, 2\]\) are intact'):
      checkpoint.save(manager, third)
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    signal.signal(signal.SIGXFSZ, previous)
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['1', '2']
  _assert_restores(tmp_path, 2, states[2])


@_NOISE
@pytest.mark.parametrize('failure, cause', [
    ('vanished', 'another process is writing checkpoints to this workdir'),
    ('removed_dir', 'checkpoint directory was removed while it was written'),
    ('permission', 'no permission to write there'),
    ('no_space', r'the disk is full: .* MiB free \(statvfs\)'),
])
@pytest.mark.heavy
def test_failed_write_names_its_cause(tmp_path, monkeypatch, failure, cause):
  """The message says what happened, checked, not a guess."""
  manager, states = _saved_states(tmp_path)
  third = states[2].replace(step=np.asarray(3, np.int32))
  directory = str(manager.directory)
  codes = {'vanished': errno.ENOENT, 'removed_dir': errno.ENOENT,
           'permission': errno.EACCES, 'no_space': errno.ENOSPC}

  def failing_save(*args, **kwargs):
    del args, kwargs
    if failure == 'removed_dir':
      shutil.rmtree(directory)
    raise OSError(codes[failure], os.strerror(codes[failure]))
  monkeypatch.setattr(manager, 'save', failing_save)
  with pytest.raises(OSError, match=r'Could not write checkpoint step 3.*'
                     + cause) as info:
    checkpoint.save(manager, third)
  assert info.value.errno == codes[failure]


def test_unwritable_workdir_is_a_clear_error(tmp_path):
  (tmp_path / 'file').write_text('x')
  with pytest.raises(OSError, match=r"workdir='.*file/run' is not writable"):
    checkpoint.check_writable(str(tmp_path / 'file' / 'run'))
  checkpoint.check_writable(str(tmp_path / 'ok'))
  assert os.listdir(tmp_path / 'ok' / 'checkpoints') == []


def _truncate(step_dir):
  for path in glob.glob(os.path.join(step_dir, '**', 'd', '*'),
                        recursive=True):
    with open(path, 'r+b') as f:
      f.truncate(os.path.getsize(path) // 2)


@_NOISE
@pytest.mark.parametrize('damage', ['truncate', 'empty', 'no_item'])
@pytest.mark.heavy
def test_damaged_latest_checkpoint_falls_back_with_warning(tmp_path, caplog,
                                                           damage):
  manager, states = _saved_states(tmp_path, steps=(1, 2, 3))
  config_file.write(str(tmp_path), test_config.get_config())
  latest = tmp_path / 'checkpoints' / '3'
  if damage == 'truncate':
    _truncate(str(latest))
  elif damage == 'empty':
    shutil.rmtree(latest)
    latest.mkdir()
  else:
    shutil.rmtree(latest / 'default')
  # load_params only reads: it warns and leaves the workdir as it is.
  params = api.load_params(str(tmp_path))
  assert params.step == 2 and 'step 3' in caplog.text
  assert 'unreadable' in caplog.text and latest.exists()
  # Training moves the damaged step aside so that it can be written again.
  _assert_restores(tmp_path, 2, states[2])
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['1', '2']
  assert os.listdir(tmp_path / checkpoint.CORRUPT_DIR)[0].startswith('3-')
  manager = checkpoint.create_manager(str(tmp_path))
  assert checkpoint.save(manager, states[3])
  _assert_restores(tmp_path, 3, states[3])


@_NOISE
def test_every_checkpoint_unreadable_is_an_error_and_moves_nothing(tmp_path):
  _, states = _saved_states(tmp_path)
  _, other = _state(0)
  other = other.replace(d_params={'other': np.zeros(3, np.float32)})
  with pytest.raises(ValueError, match=r'No checkpoint.*step 2:.*step 1:.*'
                     'incompatible'):
    checkpoint.restore_latest(checkpoint.create_manager(str(tmp_path)), other)
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['1', '2']
  del states


def test_remote_workdirs_are_kept_as_urls():
  assert config_file.is_remote('gs://bucket/runs/a')
  assert not config_file.is_remote('workdirs/a')
  assert config_file.absolute('gs://bucket/runs/a') == 'gs://bucket/runs/a'  # pylint: disable=protected-access
  assert os.path.isabs(config_file.absolute('workdirs/a'))  # pylint: disable=protected-access


"""orbax save -> restore is exact; keep N; config round trip; bad workdirs."""
import json
import os

import jax
import numpy as np
import pytest

from configs import test as test_config
from vaegan_jax import checkpoint
from vaegan_jax import train_lib


def _state(seed):
  config = test_config.get_config()
  return config, train_lib.create_train_state(config, jax.random.PRNGKey(seed))[3]


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
  checkpoint.write_config(str(tmp_path), config)
  again = checkpoint.read_config(str(tmp_path))
  assert again.model.num_down == config.model.num_down
  assert tuple(again.model.dilations) == tuple(config.model.dilations)
  with pytest.raises(FileNotFoundError, match='does not exist'):
    checkpoint.read_config(str(tmp_path / 'missing'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(FileNotFoundError, match='config.json'):
    checkpoint.read_config(str(tmp_path / 'empty'))
  with pytest.raises(FileNotFoundError, match='checkpoint'):
    checkpoint.restore_raw(str(tmp_path))
  path = os.path.join(str(tmp_path), checkpoint.CONFIG_FILE)
  with open(path) as f:
    payload = json.load(f)
  payload['format_version'] = 999
  with open(path, 'w') as f:
    json.dump(payload, f)
  with pytest.raises(ValueError, match='format'):
    checkpoint.read_config(str(tmp_path))

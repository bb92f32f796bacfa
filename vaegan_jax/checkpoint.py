"""Checkpoints with orbax: periodic saves, keep N, resume from the latest.

Layout of a workdir:
  config.json          the full training config (describes the architecture)
  checkpoints/<step>/  orbax checkpoints of the whole TrainState
Orbax writes each step to a temporary directory and renames it when complete,
so a crash mid-save never leaves a checkpoint that looks finished.
"""
import json
import os
from typing import Any, Optional, Tuple

from absl import logging
import flax
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

FORMAT_VERSION = 1
CONFIG_FILE = 'config.json'
CHECKPOINT_DIR = 'checkpoints'


def create_manager(workdir: str, max_to_keep: int = 3) -> ocp.CheckpointManager:
  """Returns a CheckpointManager under `workdir/checkpoints`."""
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                           create=True))


def _host_tree(state) -> Any:
  """State dict with numpy leaves (0-d arrays, never numpy scalars)."""
  tree = flax.serialization.to_state_dict(jax.device_get(state))
  return jax.tree_util.tree_map(np.asarray, tree)


def save(manager: ocp.CheckpointManager, state, *, force: bool = False) -> bool:
  """Saves an unreplicated TrainState at its own step."""
  step = int(jax.device_get(state.step))
  saved = manager.save(step, args=ocp.args.StandardSave(_host_tree(state)),
                       force=force)
  return bool(saved)


def restore_latest(manager: ocp.CheckpointManager, target) -> Tuple[Any, int]:
  """Restores the newest checkpoint into the structure of `target`.

  Returns:
    (state, step); (target, 0) when there is no checkpoint yet.
  """
  step = manager.latest_step()
  if step is None:
    return target, 0
  restored = manager.restore(
      step, args=ocp.args.StandardRestore(_host_tree(target)))
  state = flax.serialization.from_state_dict(target, restored)
  logging.info('Restored checkpoint at step %d from %s', step,
               manager.directory)
  return state, int(step)


def restore_raw(workdir: str, step: Optional[int] = None) -> Tuple[dict, int]:
  """Restores a checkpoint as nested dicts of numpy arrays, without a target."""
  ckpt_dir = os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)
  if not os.path.isdir(ckpt_dir):
    raise FileNotFoundError(
        f'workdir={workdir!r} has no {CHECKPOINT_DIR}/ directory; expected a '
        'workdir written by train.py (or a pretrained/<name> directory).')
  manager = ocp.CheckpointManager(ckpt_dir)
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(
        f'workdir={workdir!r} contains no finished checkpoint in '
        f'{ckpt_dir}; train first (python train.py --workdir {workdir}).')
  restored = manager.restore(step, args=ocp.args.StandardRestore())
  return jax.tree_util.tree_map(np.asarray, restored), int(step)


def write_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes config.json (with the format version) next to the checkpoints."""
  os.makedirs(workdir, exist_ok=True)
  payload = {'format_version': FORMAT_VERSION,
             'config': json.loads(config.to_json_best_effort())}
  tmp = os.path.join(workdir, CONFIG_FILE + '.tmp')
  with open(tmp, 'w') as f:
    json.dump(payload, f, indent=2, sort_keys=True)
  os.replace(tmp, os.path.join(workdir, CONFIG_FILE))


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """Reads config.json; FileNotFoundError / ValueError when unusable."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f'workdir={workdir!r} has no {CONFIG_FILE}; expected a directory '
        'written by train.py (or a pretrained/<name> directory).')
  with open(path) as f:
    payload = json.load(f)
  version = payload.get('format_version')
  if version != FORMAT_VERSION:
    raise ValueError(
        f'workdir={workdir!r} was written with checkpoint format '
        f'{version!r}; this vaegan_jax reads format {FORMAT_VERSION}.')
  return ml_collections.ConfigDict(payload['config'])

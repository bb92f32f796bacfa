"""Checkpoints with orbax: periodic saves, keep N, resume from the latest.

Layout of a workdir:
  config.json          the full training config (run/config_file.py)
  checkpoints/<step>/  orbax checkpoints of the whole TrainState
Orbax writes each step to a temporary directory and renames it when complete,
so a crash mid-save never leaves a checkpoint that looks finished.  A
checkpoint that still fails to restore (a truncated or corrupted file) is
skipped with a warning in favour of the previous one; training moves it to
corrupt_checkpoints/ so that the step can be written again.  No checkpoint
with a NaN or inf is ever written, and a save that would not fit on the disk
fails before it writes anything.

A workdir may be a local path or a remote one such as gs://bucket/run
(through etils.epath, as orbax itself does): a multi-host run needs one that
every host sees.
"""
import errno
import glob
import os
import re
import shutil
import time
from typing import Any, Callable, Optional, Tuple

from absl import logging
from etils import epath
import flax
import jax
import numpy as np
import orbax.checkpoint as ocp

from vaegan_jax.run import config_file
from vaegan_jax.run import distributed

CHECKPOINT_DIR = 'checkpoints'
BEST_DIR = 'best'  # <workdir>/best: a workdir of the best checkpoint only
CORRUPT_DIR = 'corrupt_checkpoints'
# Orbax's metadata and tmp-dir copies on top of the array bytes.
_SPACE_MARGIN = 1.25
_MIB = 2**20


def check_writable(workdir: str) -> None:
  """Creates workdir/checkpoints and proves it writable, or raises OSError."""
  path = epath.Path(config_file.absolute(workdir)) / CHECKPOINT_DIR
  probe = path / f'.write_test_{os.getpid()}_{jax.process_index()}'
  try:
    path.mkdir(parents=True, exist_ok=True)
    probe.write_text('ok')
    probe.unlink()
  except OSError as e:
    raise OSError(e.errno, f'workdir={workdir!r} is not writable '
                  f'({e.strerror or e}); choose another --workdir or fix its '
                  'permissions.') from e


def create_manager(workdir: str, max_to_keep: int = 3) -> ocp.CheckpointManager:
  """Returns a CheckpointManager under `workdir/checkpoints`."""
  # Synchronous saves: a failed write raises at its own step, and nothing is
  # left in flight when the process exits.
  return _manager(os.path.join(config_file.absolute(workdir), CHECKPOINT_DIR),
                  ocp.CheckpointManagerOptions(
                      max_to_keep=max_to_keep, create=True,
                      enable_async_checkpointing=False))


def create_best_manager(workdir: str, metric: str,
                        mode: str) -> ocp.CheckpointManager:
  """The manager of <workdir>/best/checkpoints: it keeps the one checkpoint
  whose metrics[metric] is best (`mode` 'min' or 'max'), by orbax's
  best_fn.  <workdir>/best is itself a workdir (the caller writes its
  config.json), so load_params and export read it as they read a run."""
  directory = os.path.join(config_file.absolute(workdir), BEST_DIR,
                           CHECKPOINT_DIR)
  return _manager(directory, ocp.CheckpointManagerOptions(
      max_to_keep=1, best_fn=lambda m: m[metric], best_mode=mode,
      keep_checkpoints_without_metrics=False, create=True,
      enable_async_checkpointing=False))


def _manager(directory: str, options=None) -> ocp.CheckpointManager:
  # One fixed item: otherwise orbax guesses the layout from the first step
  # it reads, and one damaged step would make every other step unreadable.
  return ocp.CheckpointManager(directory, options=options,
                               item_handlers=ocp.StandardCheckpointHandler())


def nonfinite_leaves(tree) -> list[str]:
  """Paths of floating leaves (numpy) of `tree` with a NaN or inf."""
  bad = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    leaf = np.asarray(leaf)
    if np.issubdtype(leaf.dtype, np.inexact) and not np.isfinite(leaf).all():
      bad.append(jax.tree_util.keystr(path))
  return bad


def _host_tree(state) -> Any:
  """State dict with numpy leaves (0-d arrays, never numpy scalars)."""
  tree = flax.serialization.to_state_dict(jax.device_get(state))
  return jax.tree_util.tree_map(np.asarray, tree)


def save(manager: ocp.CheckpointManager, state, *, force: bool = False,
         metrics: Optional[dict] = None) -> bool:
  """Saves an unreplicated TrainState at its own step (with `metrics` for
  a manager that keeps the best).

  Raises:
    ValueError: the state holds a NaN or inf (nothing is written).
    OSError: the disk is full or the directory unwritable; earlier
      checkpoints are left intact.
  """
  step = int(jax.device_get(state.step))
  tree = _host_tree(state)
  bad = nonfinite_leaves(tree)
  if bad:
    raise ValueError(f'Refusing to save step {step}: non-finite values in '
                     f'{", ".join(bad[:5])}.')
  directory = str(manager.directory)
  kept = f'earlier checkpoints (steps {manager.all_steps()}) are intact'
  need = _SPACE_MARGIN * sum(x.nbytes for x in jax.tree_util.tree_leaves(tree))
  free = (float('inf') if config_file.is_remote(directory)
          else shutil.disk_usage(directory).free)
  if free < need:
    raise OSError(errno.ENOSPC, f'Not enough disk space for checkpoint step '
                  f'{step} in {directory}: {free / _MIB:.1f} MiB free, about '
                  f'{need / _MIB:.1f} MiB needed; {kept}. Free space or move '
                  'the workdir, then rerun to resume.')
  try:
    saved = manager.save(step, args=ocp.args.StandardSave(tree), force=force,
                         metrics=metrics)
  except (OSError, ValueError) as e:
    # Tensorstore reports failed writes as ValueError with the OS error code.
    _remove_partial(manager, directory, step)
    match = re.search(r"os_error_code='(\d+)'", str(e))
    code = getattr(e, 'errno', None) or (int(match[1]) if match else errno.EIO)
    raise OSError(code, f'Could not write checkpoint step {step} to '
                  f'{directory} ({os.strerror(code)}): '
                  f'{_write_failure_cause(directory, code, need)}; {kept}. '
                  f'[{str(e)[:200]}]') from e
  return bool(saved)


def _write_failure_cause(directory: str, code: int, need: float) -> str:
  """What made a checkpoint write fail, checked, and what to do about it."""
  if config_file.is_remote(directory):
    return (f'the storage service refused the write ({os.strerror(code)}); '
            'check the bucket, its permissions and quota, then rerun to '
            'resume')
  if not os.path.isdir(directory):
    return ('the checkpoint directory was removed while it was written '
            '(another run on this workdir, or a cleanup job?); make sure one '
            'run uses the workdir, then rerun to resume')
  if code in (errno.EACCES, errno.EPERM, errno.EROFS) or not os.access(
      directory, os.W_OK):
    return ('no permission to write there (or a read-only file system); fix '
            'the permissions or choose another --workdir, then rerun')
  stat = os.statvfs(directory)
  free = stat.f_bavail * stat.f_frsize
  if code in (errno.ENOSPC, errno.EDQUOT) or free < need:
    return (f'the disk is full: {free / _MIB:.1f} MiB free (statvfs), '
            f'about {need / _MIB:.1f} MiB needed; free space or move the '
            'workdir, then rerun to resume')
  if code == errno.ENOENT:
    return ('a file of this checkpoint vanished while it was written, with '
            'the directory still there and space left: another process is '
            'writing checkpoints to this workdir (a second run?); stop it, '
            'then rerun to resume')
  if code == errno.EFBIG:
    return ('a file went over the process file-size limit (ulimit -f); '
            'raise it, then rerun to resume')
  return f'the operating system reported {os.strerror(code)}'


def _remove_partial(manager, directory: str, step: int) -> None:
  """Removes what a failed save left, once orbax's writer threads are done.

  A failed write leaves orbax's metadata thread running; it can recreate the
  temporary directory after a first removal, so wait for it, then remove
  until the directory stays gone.
  """
  try:
    manager.wait_until_finished()
  except Exception:  # pylint: disable=broad-except
    pass  # The same failure, already being reported.
  pattern = os.path.join(directory, f'{step}.orbax-checkpoint-tmp*')
  deadline = time.monotonic() + 10.0
  while True:
    for tmp in glob.glob(pattern):
      shutil.rmtree(tmp, ignore_errors=True)  # Give the space back.
    time.sleep(0.2)
    if not glob.glob(pattern) or time.monotonic() > deadline:
      return


def _restore_first_good(steps, restore_fn: Callable[[int], Any], where: str,
                        on_bad: Optional[Callable[[int], None]] = None):
  """Tries restore_fn on `steps` (newest first) until one works.

  A checkpoint that raises or holds a NaN / inf is reported and passed to
  `on_bad`, but only once an older one restored, so that a workdir whose
  every checkpoint fails (e.g. another architecture) is left untouched.

  Returns:
    (restored, step), or (None, None) when `steps` is empty.
  """
  failures = []
  for step in steps:
    try:
      restored = restore_fn(step)
      bad = nonfinite_leaves(restored)
      if bad:
        raise ValueError(f'non-finite values in {", ".join(bad[:3])}')
    except Exception as e:  # pylint: disable=broad-except
      failures.append((step, f'{type(e).__name__}: {e}'[:300]))
      continue
    for bad_step, why in failures:
      logging.warning('Checkpoint step %d in %s is unreadable (%s); using '
                      'step %d instead.', bad_step, where, why, step)
      if on_bad:
        on_bad(bad_step)
    return restored, step
  if failures:
    raise ValueError(f'No checkpoint in {where} could be restored: '
                     + '; '.join(f'step {s}: {w}' for s, w in failures)
                     + '. Was it written by an incompatible version or '
                     'config?')
  return None, None


def _quarantine(manager: ocp.CheckpointManager, step: int) -> None:
  """Moves checkpoints/<step> to corrupt_checkpoints/<step>-<time>."""
  if jax.process_index() == 0:  # The workdir is shared by all processes.
    src = epath.Path(str(manager.directory)) / str(step)
    dst_dir = epath.Path(str(manager.directory)).parent / CORRUPT_DIR
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / f'{step}-{int(time.time())}'
    src.rename(dst)
    logging.warning('Moved unreadable checkpoint %s to %s.', src, dst)
  # No process may list the steps again before the move.
  distributed.barrier(f'vaegan_jax_quarantine_{step}')


def restore_latest(manager: ocp.CheckpointManager, target) -> Tuple[Any, int]:
  """Restores the newest readable checkpoint into the structure of `target`.

  Unreadable newer checkpoints are moved to corrupt_checkpoints/.

  Returns:
    (state, step); (target, 0) when there is no checkpoint yet.
  """
  host_target = _host_tree(target)
  restored, step = _restore_first_good(
      sorted(manager.all_steps(), reverse=True),
      lambda s: manager.restore(s, args=ocp.args.StandardRestore(host_target)),
      str(manager.directory), on_bad=lambda s: _quarantine(manager, s))
  manager.reload()
  if step is None:
    return target, 0
  state = flax.serialization.from_state_dict(target, restored)
  logging.info('Restored checkpoint at step %d from %s', step,
               manager.directory)
  return state, int(step)


def restore_raw(workdir: str, step: Optional[int] = None) -> Tuple[dict, int]:
  """Restores a checkpoint as nested dicts of numpy arrays, without a target."""
  ckpt_dir = os.path.join(config_file.absolute(workdir), CHECKPOINT_DIR)
  if not epath.Path(ckpt_dir).is_dir():
    raise FileNotFoundError(
        f'workdir={workdir!r} has no {CHECKPOINT_DIR}/ directory; expected a '
        'workdir written by train.py (or a pretrained/<name> directory).')
  manager = _manager(ckpt_dir)
  steps = sorted(manager.all_steps(), reverse=True)
  if not steps:
    raise FileNotFoundError(
        f'workdir={workdir!r} contains no finished checkpoint in '
        f'{ckpt_dir}; train first (python train.py --workdir {workdir}).')
  if step is not None and step not in steps:
    raise FileNotFoundError(f'workdir={workdir!r} has no checkpoint step '
                            f'{step}; it has steps {sorted(steps)}.')

  def restore(s):
    restored = manager.restore(s, args=ocp.args.StandardRestore())
    return jax.tree_util.tree_map(np.asarray, restored)

  restored, got = _restore_first_good(
      steps if step is None else [step], restore, ckpt_dir)
  return restored, int(got)


def check_shapes(source: str, got, want) -> None:
  """ValueError naming the first weight whose shape differs (or is missing).

  Args:
    source: the workdir the weights come from, for the message.
    got, want: pytrees of arrays (or ShapeDtypeStructs) to compare.
  """
  def shapes(tree):
    return {jax.tree_util.keystr(path): tuple(np.shape(leaf)) for path, leaf
            in jax.tree_util.tree_flatten_with_path(tree)[0]}

  got, want = shapes(got), shapes(want)
  for path in sorted(set(got) | set(want)):
    if got.get(path) != want.get(path):
      raise ValueError(
          f'workdir={source!r}: checkpoint weight {path} has shape '
          f'{got.get(path, "(missing)")} but the model needs '
          f'{want.get(path, "(none)")}; was it written for another '
          'architecture or by an incompatible version?')

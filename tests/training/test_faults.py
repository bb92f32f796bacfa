"""Training faults: non-finite updates, signals, kills, torn checkpoints."""
import functools
import glob
import os
import re
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

from tests.conftest import ROOT, xla_flags
from vaegan_jax.configs import test as test_config
from vaegan_jax.run import checkpoint
from vaegan_jax.training import faults
from vaegan_jax.training import optim
from vaegan_jax.training import train_lib
from vaegan_jax.training import train_loop


def _batch(n, size, seed=0):
  rng = np.random.RandomState(seed)
  mask = np.zeros((n, size, size, 1), np.float32)
  mask[:, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1.0
  return {'image': rng.rand(n, size, size, 3).astype(np.float32),
          'mask': mask}


def _assert_trees_equal(a, b):
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b),
                  strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _trees_equal(a, b):
  return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(
      jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.mark.heavy
def test_steps_skip_non_finite_updates():
  config = test_config.get_config()
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(0))
  d = jax.jit(functools.partial(train_lib.d_step, nets=nets, d_tx=d_tx,
                                loss_config=config.loss, axis_name=None))
  g = jax.jit(functools.partial(
      train_lib.g_step, nets=nets, g_tx=g_tx, loss_config=config.loss,
      ema_decay=config.optim.ema_decay, axis_name=None))
  batch = _batch(4, config.image_size)
  s1, dm = d(state, batch)
  s1, gm = g(s1, batch)
  assert float(dm['d_skipped']) == 0 and float(gm['g_skipped']) == 0
  assert not _trees_equal(s1.g_params, state.g_params)
  # One NaN pixel in one example poisons the loss and every gradient.
  batch['image'][2, 5, 5, 1] = np.nan
  s2, dm = d(s1, batch)
  s2, gm = g(s2, batch)
  assert float(dm['d_skipped']) == 1 and float(gm['g_skipped']) == 1
  assert not np.isfinite(float(gm['g_total']))
  assert int(s2.step) == int(s1.step) + 1  # data and noise stay keyed.
  _assert_trees_equal(s2.replace(step=s1.step), s1)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf, 1e20, None])
def test_loss_and_grad_norm_check_agrees_with_whole_tree_check(bad):
  """The steps test two scalars; that decides what a per-leaf test would."""
  config = test_config.get_config()
  tx = optim.make_optimizer(1e-3, config.optim, 10)
  rng = np.random.RandomState(0)
  params = {'a': rng.randn(3, 4).astype(np.float32),
            'b': {'c': rng.randn(5).astype(np.float32)}}
  grads = jax.tree_util.tree_map(lambda x: 1e3 * x, params)
  if bad is not None:
    grads['b']['c'][2] = bad  # 1e20: finite, but its square overflows.
  opt_state = tx.init(params)
  updates, opt_state = tx.update(grads, opt_state, params)
  new_params = optax.apply_updates(params, updates)
  ok = bool(faults.update_is_finite(np.float32(1.0), optax.tree.norm(grads)))
  whole_tree = bool(faults.all_finite((grads, new_params, opt_state)))
  if bad is None:
    assert ok and whole_tree
  elif np.isfinite(bad):
    # Stricter than the per-leaf test: a gradient norm above sqrt(FLT_MAX)
    # is skipped even though clipping would have kept the update finite.
    assert not ok and whole_tree
  else:
    assert not ok and not whole_tree
  assert not bool(faults.update_is_finite(np.float32(np.nan),
                                          optax.tree.norm(params)))


def test_skip_counter_stops_after_max_consecutive(caplog):
  counter = faults.SkipCounter(3)
  counter.update(1, [])
  counter.update(2, ['generator'])
  counter.update(3, [])
  counter.update(4, ['discriminator', 'generator'])
  counter.update(5, ['discriminator'])
  assert (counter.total, counter.streak) == (3, 2)
  assert 'Step 4: non-finite loss or gradient in the discriminator and ' \
      'generator update; skipped it (1 in a row, 2 in total)' in caplog.text
  with pytest.raises(faults.NonFiniteError,
                     match=r'Stopped at step 6: 3 consecutive.*steps 4\.\.6'):
    counter.update(6, ['generator'])


def test_signal_flag_catches_sigterm_and_restores_handlers():
  before = signal.getsignal(signal.SIGTERM)
  with faults.SignalFlag() as stop:
    assert stop.signum is None
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.signum == signal.SIGTERM
  assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.heavy
def test_loop_skips_nan_steps_and_stops_after_too_many(tmp_path, monkeypatch,
                                                       caplog):
  config = test_config.get_config()
  config.num_steps = 10
  config.log_every = 3
  config.image_every = 1000
  config.checkpoint_every = 1
  config.keep_checkpoints = 10
  config.max_nonfinite_skips = 3
  nan_steps = {2, 5, 6, 7}  # iterations (1-based) with a NaN example.
  real = train_loop.input_pipeline.create_train_iterator

  def poisoned(config, *, start_step=0, **kwargs):
    for done, batch in enumerate(real(config, start_step=start_step,
                                      **kwargs), start=start_step + 1):
      if done in nan_steps:
        batch = dict(batch, image=batch['image'].copy())
        batch['image'][-1, 0, 3, 3, 0] = np.nan  # last device only.
      yield batch

  monkeypatch.setattr(train_loop.input_pipeline, 'create_train_iterator',
                      poisoned)
  workdir = str(tmp_path)
  with pytest.raises(faults.NonFiniteError,
                     match=r'Stopped at step 7.*steps 5\.\.7'):
    train_loop.train(config, workdir)
  assert 'Step 2: non-finite' in caplog.text
  assert '(1 in a row, 1 in total)' in caplog.text
  states = {}
  for name in os.listdir(os.path.join(workdir, 'checkpoints')):
    raw, step = checkpoint.restore_raw(workdir, int(name))
    assert not checkpoint.nonfinite_leaves(raw)
    states[step] = {k: raw[k] for k in raw if k != 'step'}
  # The skipped iterations kept every weight, optimizer moment and the EMA.
  assert set(states) >= {1, 2, 3, 4, 5, 6}
  _assert_trees_equal(states[2], states[1])
  _assert_trees_equal(states[5], states[4])
  _assert_trees_equal(states[6], states[4])
  assert not _trees_equal(states[3], states[2])


def test_unwritable_workdir_fails_before_compiling(tmp_path, monkeypatch):
  def compile_state(*args, **kwargs):
    raise AssertionError('compiled before checking the workdir')
  monkeypatch.setattr(train_loop.train_lib, 'create_train_state',
                      compile_state)
  (tmp_path / 'file').write_text('not a directory')
  with pytest.raises(OSError, match=r'not writable.*--workdir'):
    train_loop.train(test_config.get_config(),
                                  str(tmp_path / 'file' / 'run'))


# --- Whole runs in subprocesses: real signals, real kills. -----------------

_ENV = dict(os.environ, XLA_FLAGS=xla_flags(2),
            JAX_PLATFORMS='cpu', TF_CPP_MIN_LOG_LEVEL='2')
_STEPS = 12  # Every one must repeat the reference run's losses exactly.
_TIMING = ('steps_per_sec', 'images_per_sec')


def _train(workdir, *flags, until=None, sig=None):
  """Runs train.py; with `until`, sends `sig` once stdout shows it."""
  args = [sys.executable, 'train.py', '--config', 'configs/test.py',
          '--workdir', str(workdir), f'--config.num_steps={_STEPS}',
          '--config.log_every=1', '--config.image_every=1000', *flags]
  with open(f'{workdir}.stderr.txt', 'w+') as err:
    proc = subprocess.Popen(args, cwd=ROOT, env=_ENV, stdout=subprocess.PIPE,
                            stderr=err, text=True)
    lines = []
    try:
      for line in proc.stdout:
        lines.append(line)
        if until and until in line:
          proc.send_signal(sig)
          break
      lines += proc.stdout.readlines()
      proc.wait(timeout=300)
    finally:
      proc.kill()
    err.seek(0)
    return ''.join(lines), err.read(), proc.returncode


def _scalars(workdir):
  """{(step, tag): value} over every event file of `workdir`; checks repeats."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  values = {}
  for path in sorted(glob.glob(os.path.join(workdir, 'events.out.*'))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        if (v.tag in _TIMING
            or v.metadata.plugin_data.plugin_name != 'scalars'):
          continue
        value = float(tf.make_ndarray(v.tensor))
        key = (event.step, v.tag)
        # A step run again after a kill must repeat its losses exactly.
        assert values.setdefault(key, value) == value, key
  return values


def _truncate_data_files(step_dir):
  for path in glob.glob(os.path.join(step_dir, '**', 'd', '*'),
                        recursive=True):
    with open(path, 'r+b') as f:
      f.truncate(os.path.getsize(path) // 2)


@pytest.mark.heavy
def test_sigterm_sigkill_and_torn_checkpoint_resume_exactly(tmp_path):
  ref = tmp_path / 'ref'
  out, err, rc = _train(ref)
  assert rc == 0, out + err
  run = tmp_path / 'run'
  flags = ('--config.checkpoint_every=1', '--config.keep_checkpoints=3')
  ckpt_dir = run / 'checkpoints'

  # SIGTERM (pre-emption): the current step is saved before exit.
  out, err, rc = _train(run, *flags, until='step 3/', sig=signal.SIGTERM)
  assert rc == 128 + signal.SIGTERM, out + err
  saved = int(re.search(r'Received SIGTERM: wrote the checkpoint of step '
                        r'(\d+)', out).group(1))
  assert 3 <= saved < _STEPS and str(saved) in os.listdir(ckpt_dir)

  # SIGKILL at an arbitrary moment (likely mid-save: every step saves).
  out, err, rc = _train(run, *flags, until=f'step {saved + 3}/',
                        sig=signal.SIGKILL)
  assert rc == -signal.SIGKILL and f'Resuming from step {saved}' in out, out
  assert os.listdir(run / 'lock')  # The killed run's claim is left behind.

  steps = sorted(int(d) for d in os.listdir(ckpt_dir) if d.isdigit())
  assert steps[-1] >= saved + 2  # saved before 'step {saved + 3}' printed.

  # The newest checkpoint torn, and a temporary directory of a cut save.
  _truncate_data_files(str(ckpt_dir / str(steps[-1])))
  shutil.copytree(ckpt_dir / str(steps[-2]),
                  ckpt_dir / f'{steps[-1] + 1}.orbax-checkpoint-tmp-1')
  out, err, rc = _train(run, *flags)
  assert rc == 0, out + err
  assert re.search(r'Taking over the claim .* process \d+ is no longer running '
                   'here', out), out
  assert f'Checkpoint step {steps[-1]}' in err and 'unreadable' in err
  assert f'Resuming from step {steps[-2]}' in out
  assert os.listdir(run / checkpoint.CORRUPT_DIR)

  # Same params and, step for step, the same losses as the reference run.
  want, _ = checkpoint.restore_raw(str(ref), _STEPS)
  got, _ = checkpoint.restore_raw(str(run), _STEPS)
  _assert_trees_equal(got, want)
  ref_scalars, run_scalars = _scalars(str(ref)), _scalars(str(run))
  assert {s for s, _ in ref_scalars} == set(range(1, _STEPS + 1))
  # Events of the killed process may not have been flushed; the others were.
  covered = set(range(1, saved + 1)) | set(range(steps[-2] + 1, _STEPS + 1))
  assert {s for s, _ in run_scalars} >= covered
  for key, value in run_scalars.items():
    assert ref_scalars[key] == value, key

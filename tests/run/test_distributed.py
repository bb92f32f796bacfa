"""distributed.initialize: flags / environment checks and the single-process
fallback.  The 2-process run itself is tests/training/test_multihost.py."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from vaegan_jax.run import distributed


@pytest.fixture(autouse=True)
def _no_cluster_env(monkeypatch):
  for name in (distributed.ENV_ADDRESS, distributed.ENV_NUM_PROCESSES,
               distributed.ENV_PROCESS_ID):
    monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize('kwargs, message', [
    ({'num_processes': 2}, 'missing coordinator_address, process_id'),
    ({'coordinator_address': '127.0.0.1:1', 'num_processes': 2,
      'process_id': 2}, r'process_id=2 must be in \[0, num_processes=2\)'),
    ({'coordinator_address': '127.0.0.1:1', 'process_id': 0},
     'missing num_processes'),
])
def test_incomplete_or_inconsistent_arguments_are_rejected(kwargs, message):
  with pytest.raises(ValueError, match=message):
    distributed.initialize(**kwargs)


def test_environment_fills_missing_arguments(monkeypatch):
  monkeypatch.setenv(distributed.ENV_NUM_PROCESSES, '2')
  monkeypatch.setenv(distributed.ENV_PROCESS_ID, '5')
  with pytest.raises(ValueError, match='process_id=5 must be in'):
    distributed.initialize('127.0.0.1:1')
  monkeypatch.setenv(distributed.ENV_PROCESS_ID, 'zero')
  with pytest.raises(ValueError, match="JAX_PROCESS_ID='zero' must be an "
                     'integer'):
    distributed.initialize('127.0.0.1:1')


def test_one_process_needs_no_coordinator():
  assert distributed.initialize(num_processes=1) == 1
  assert distributed.any_process(True) and not distributed.any_process(False)
  distributed.barrier('single')  # Returns at once.


def _run(code_or_args, env_extra=None):
  env = {k: v for k, v in os.environ.items() if not k.startswith('JAX_')
         or k in ('JAX_PLATFORMS', 'JAX_COMPILATION_CACHE_DIR')}
  env.update(env_extra or {})
  return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=240)


def test_no_cluster_means_a_single_process():
  proc = _run(['-c', 'from vaegan_jax.run import distributed; import jax; '
               'print(distributed.initialize(), jax.process_count())'])
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.split() == ['1', '1']


@pytest.mark.heavy
def test_train_py_reports_bad_multi_process_flags():
  proc = _run(['train.py', '--config', 'configs/test.py', '--num_processes=2',
               '--process_id=0'])
  assert proc.returncode != 0
  assert 'Invalid multi-process flags' in proc.stderr
  assert 'missing coordinator_address' in proc.stderr

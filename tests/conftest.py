"""Test setup: 8 emulated CPU devices, repo root importable, TF kept small."""
import os
import sys
import tempfile

# Must happen before jax is imported anywhere.
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Compiled train steps are shared by the in-process tests and the train.py /
# eval.py subprocesses, which inherit this environment.
os.environ.setdefault(
    'JAX_COMPILATION_CACHE_DIR',
    os.path.join(tempfile.gettempdir(), f'vaegan_jax_test_xla_{os.getuid()}'))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


def pytest_collection_modifyitems(items):
  """Runs the tests marked heavy first (longest-first scheduling).

  With `-n 2` a heavy test that starts last leaves the other worker idle
  until it ends; started first, the short tests fill the gaps.
  """
  items.sort(key=lambda item: item.get_closest_marker('heavy') is None)

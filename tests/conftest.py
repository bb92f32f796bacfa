"""Test setup: 8 emulated CPU devices, repo root importable, TF kept small."""
import os
import sys
import tempfile

import pytest

# Must happen before jax is imported anywhere.
def xla_flags(num_devices: int, optimize: bool = False) -> str:
  """XLA_FLAGS for a test process with `num_devices` emulated CPU devices.

  The tests compile many small programs and run each only a few times, so
  compile time counts most.  LLVM's optimisation level 0 with XLA's older
  elemental emitters compiles the test config's single-device G + D steps
  in 2.4 s, against 9.2 s with the defaults and 5.6 s at level 0 with the
  fusion emitters; the steps run in 23 ms instead of 12 ms.  `optimize`:
  level 1, for a process that runs a large program many times (the shipped
  architecture's train step: 0.12 s instead of 0.94 s, for 5 s more
  compile).
  """
  return (f'--xla_force_host_platform_device_count={num_devices} '
          f'--xla_backend_optimization_level={1 if optimize else 0} '
          '--xla_cpu_use_fusion_emitters=false')


os.environ.setdefault('XLA_FLAGS', xla_flags(8))
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Compiled train steps are shared by the in-process tests and the train.py /
# eval.py subprocesses, which inherit this environment.
os.environ.setdefault(
    'JAX_COMPILATION_CACHE_DIR',
    os.path.join(tempfile.gettempdir(), f'vaegan_jax_test_xla_{os.getuid()}'))
# Every compile, not only those over 1 s: the subprocesses compile the same
# small programs (eval rows, samplers) as the tests before them.
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


def pytest_collection_modifyitems(items):
  """Runs the tests marked heavy first (longest-first scheduling).

  With `-n 2` a heavy test that starts last leaves the other worker idle
  until it ends; started first, the short tests fill the gaps.
  """
  items.sort(key=lambda item: item.get_closest_marker('heavy') is None)


@pytest.fixture(scope='session')
def metric_reference():
  """tests/fixtures/metric_reference.npz: the reference metric networks'
  outputs (tests/fixtures/make_metric_fixtures.py)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  path = os.path.join(ROOT, 'tests', 'fixtures', 'metric_reference.npz')
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


def single_device_steps(config, nets, g_tx, d_tx):
  """The D and G steps jitted for one device (no pmap, no axis name)."""
  # pylint: disable=g-import-not-at-top
  import functools
  import jax
  from vaegan_jax.training import train_lib
  # pylint: enable=g-import-not-at-top
  d = jax.jit(functools.partial(train_lib.d_step, nets=nets, d_tx=d_tx,
                                loss_config=config.loss, axis_name=None))
  g = jax.jit(functools.partial(train_lib.g_step, nets=nets, g_tx=g_tx,
                                loss_config=config.loss,
                                ema_decay=config.optim.ema_decay,
                                axis_name=None))
  return d, g


def image_of(shape, dtype=None, seed=0):
  """Random pixels: uint8, or float in [0, 1) (float32 by default)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  dtype = np.float32 if dtype is None else dtype
  rng = np.random.RandomState(seed)
  if dtype == np.uint8:
    return rng.randint(0, 256, shape).astype(np.uint8)
  return rng.rand(*shape).astype(dtype)


def smooth_photo(h, w, seed=0):
  """A smooth photo-like float32 image [h, w, 3] in [0, 1] with a little
  noise: gradients and waves, no edges."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  y, x = np.mgrid[0:h, 0:w] / max(h, w)
  base = np.stack([0.5 + 0.3 * np.sin(6 * x), 0.4 + 0.3 * y,
                   0.3 + 0.2 * np.cos(5 * y + 3 * x)], -1)
  return (base + 0.02 * rng.randn(h, w, 3)).clip(0, 1).astype(np.float32)


def batch_of(n, size, seed=0):
  """A training batch: n random images [n, size, size, 3] in [0, 1) and a
  hole mask [n, size, size, 1] (1 = hole) over their middle."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  image = rng.rand(n, size, size, 3).astype(np.float32)
  mask = np.zeros((n, size, size, 1), np.float32)
  mask[:, size // 4: size // 2 + size // 4, size // 4:3 * size // 4] = 1.0
  return {'image': image, 'mask': mask}


def unzero_kernels(params, seed=0, scale=0.05):
  """Replaces all-zero conv kernels (zero-initialised residual convs) by
  small random ones, as after a few training steps: at initialisation a
  refining generator (model.vae.initial_fill) outputs its fill exactly, so
  neither z nor anything upstream of the residual conv has an effect."""
  # pylint: disable=g-import-not-at-top
  import jax
  import numpy as np
  # pylint: enable=g-import-not-at-top
  leaves, treedef = jax.tree_util.tree_flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
  return jax.tree_util.tree_unflatten(treedef, [
      scale * jax.random.normal(k, x.shape, x.dtype)
      if x.ndim == 4 and not np.any(np.asarray(x)) else x
      for k, x in zip(keys, leaves)])

"""configs/tpu_v3.py dry-runs on 8 emulated devices; its checkpoint serves
inference on 1 device.

The dry run trains the TPU config as a user would launch it (TFDS input,
bf16 compute, the global batch split over 8 cores), shrunk in size with the
same overrides docs/scaling.md gives; TFDS is mocked (no internet here).
The run is the Colab notebook's (test_colab_notebook.py), which trains this
config with SHRINK; `check_dry_run` holds its checks.
"""
import functools
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from tests.conftest import ROOT, xla_flags
from vaegan_jax.configs import tpu_v3
from vaegan_jax.inference import api
from vaegan_jax.run import checkpoint
from vaegan_jax.run import config_file

# What `--config.<key>=<value>` would set on the command line.
SHRINK = {
    'image_size': 32,
    'batch_size': 16,
    'num_steps': 2,
    'log_every': 1,
    'image_every': 2,
    'checkpoint_every': 2,
    'model.attention.base_channels': 8,
    'model.attention.max_channels': 16,
    'model.patch.max_channels': 16,
    'model.attention.latent_channels': 4,
    'model.attention.encoder_channels': 8,
    'model.attention.attention_channels': 8,
    'model.patch.channels': 8,
    'model.attention.fill_iterations': 4,
    'data.shuffle_buffer': 8,
}


def _image_and_mask(size=40):
  rng = np.random.default_rng(0)
  image = rng.uniform(0, 1, (size, size, 3)).astype(np.float32)
  mask = np.zeros((size, size), bool)
  mask[8:24, 10:30] = True
  return image, mask


def test_tpu_v3_config_is_the_tpu_recipe():
  config = tpu_v3.get_config()
  assert config.image_size == 256
  assert config.model.dtype == 'bfloat16'
  assert config.data.source == 'tfds' and 'data_dir' in config.data
  assert config.batch_size % 8 == 0  # TPU v3-8: 8 cores.


def check_dry_run(workdir, state, tfds_name):
  """Checks a run of this config with SHRINK on 8 devices: the notebook's
  (test_colab_notebook.py), which trains it as a user would launch it; a
  second run here would repeat the same steps."""
  assert jax.local_device_count() == 8
  assert int(state.step) == SHRINK['num_steps']
  # bf16 compute, float32 params and optimizer state.
  dtypes = {x.dtype for x in jax.tree_util.tree_leaves(
      (state.g_params, state.d_params, state.g_opt_state))
            if jnp.issubdtype(x.dtype, jnp.floating)}
  assert dtypes == {jnp.dtype('float32')}
  _, step = checkpoint.restore_raw(workdir)
  assert step == SHRINK['num_steps']
  saved = config_file.read(workdir)
  assert saved.model.dtype == 'bfloat16'
  assert saved.data.source == 'tfds' and saved.data.tfds_name == tfds_name
  for key, value in SHRINK.items():  # The run's config is the shrunk one.
    assert functools.reduce(getattr, key.split('.'), saved) == value, key
  assert os.path.exists(os.path.join(workdir, 'samples', 'latest.png'))
  _check_inpaints_on_1_device(workdir)


def _check_inpaints_on_1_device(workdir):
  """The checkpoint of 8 devices inpaints on 1 device, in a new process."""
  image, mask = _image_and_mask()
  here = api.inpaint(api.load_params(workdir), image, mask)
  code = f"""
import jax, numpy as np
from vaegan_jax.inference import api
assert jax.device_count() == 1, jax.devices()
rng = np.random.default_rng(0)
image = rng.uniform(0, 1, (40, 40, 3)).astype(np.float32)
mask = np.zeros((40, 40), bool)
mask[8:24, 10:30] = True
out = api.inpaint(api.load_params({workdir!r}), image, mask)
np.save({os.path.join(workdir, 'one_device.npy')!r}, out)
"""
  env = dict(os.environ, XLA_FLAGS=xla_flags(1),
             JAX_PLATFORMS='cpu')
  proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  there = np.load(os.path.join(workdir, 'one_device.npy'))
  assert there.shape == image.shape
  np.testing.assert_array_equal(there[~mask], image[~mask])
  assert np.abs(there[mask] - image[mask]).mean() > 0.01  # It filled.
  np.testing.assert_allclose(there, here, atol=2e-2)


def test_docs_give_the_same_shrink_overrides():
  with open(os.path.join(ROOT, 'docs', 'scaling.md')) as f:
    text = f.read()
  section = text[text.index('## Trying the TPU config on a CPU'):]
  given = dict(re.findall(r'--config\.([\w.]+)=(\S+)', section))
  given.pop('data.tfds_name')  # The user names a prepared dataset there.
  assert given == {k: str(v) for k, v in SHRINK.items()}

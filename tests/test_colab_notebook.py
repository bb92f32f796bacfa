"""examples/colab_tpu.ipynb runs top to bottom, shrunk, on 8 CPU devices.

Its code cells are executed in order in one namespace, as a notebook kernel
would; shell (!) and magic (%) lines become `pass` (no installing, no
TensorBoard here); the cell tagged 'parameters' is followed by the shrink
values; TFDS is mocked (no internet).  The run is also the dry run of
configs/tpu_v3.py (tests/fixtures/tpu_dry_run.check_dry_run).
"""
import json
import os
import re

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.conftest import ROOT
from tests.fixtures import tpu_dry_run
from tests.fixtures.tpu_dry_run import SHRINK

NOTEBOOK = os.path.join(ROOT, 'examples', 'colab_tpu.ipynb')


def _cells():
  with open(NOTEBOOK) as f:
    nb = json.load(f)
  assert nb['nbformat'] == 4
  return [c for c in nb['cells'] if c['cell_type'] == 'code']


def _as_python(source: str) -> str:
  return re.sub(r'^(\s*)[!%].*$', r'\1pass', source, flags=re.M)


def test_notebook_has_every_step_a_user_needs():
  text = '\n'.join(''.join(c['source']) for c in _cells())
  for needle in ('pip install', 'jax[tpu]', 'DATA_DIR', 'gs://',
                 '%tensorboard', 'train_loop.train(', 'load_params',
                 'inpaint(', 'num_samples=8'):
    assert needle in text, needle
  tagged = [c for c in _cells() if 'parameters' in c['metadata'].get('tags', [])]
  assert len(tagged) == 1


@pytest.mark.heavy
def test_notebook_runs_shrunk(tmp_path):
  workdir = str(tmp_path / 'workdir')
  os.makedirs(workdir)
  overrides = {k: v for k, v in SHRINK.items()
               if k not in ('num_steps', 'batch_size')}
  shrink = (f'WORKDIR = {workdir!r}\nNUM_STEPS = 2\nPER_CORE_BATCH = 2\n'
            f'OVERRIDES = {overrides!r}\nSHOW_SIZE = 48\n')
  namespace = {'__name__': '__main__'}
  cwd = os.getcwd()
  try:
    with tfds.testing.mock_data(num_examples=16):
      for cell in _cells():
        source = _as_python(''.join(cell['source']))
        if 'parameters' in cell['metadata'].get('tags', []):
          source += '\n' + shrink
        exec(compile(source, NOTEBOOK, 'exec'), namespace)  # pylint: disable=exec-used
  finally:
    os.chdir(cwd)
  config = namespace['config']
  assert config.batch_size == 2 * jax.device_count() == 16
  assert config.model.dtype == 'bfloat16'
  assert int(namespace['state'].step) == 2
  assert namespace['params'].step == 2
  image, mask = namespace['image'], namespace['mask']
  assert image.shape == (48, 48, 3) and mask.any()
  filled, samples = namespace['filled'], namespace['samples']
  np.testing.assert_array_equal(filled[~mask], image[~mask])
  assert samples.shape == (8, 48, 48, 3)
  assert np.abs(samples[0] - samples[1])[mask].mean() > 0
  for name in ('masked_filled_original.png', 'diverse_fills.png'):
    assert os.path.getsize(os.path.join(workdir, name)) > 0
  tpu_dry_run.check_dry_run(workdir, namespace['state'],
                            namespace['TFDS_NAME'])

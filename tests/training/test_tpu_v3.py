"""configs/tpu_v3.py dry-runs on 8 emulated devices; its checkpoint serves
inference on 1 device.

The dry run trains the TPU config as a user would launch it (TFDS input,
bf16 compute, the global batch split over 8 cores), shrunk in size with the
same overrides docs/scaling.md gives; TFDS is mocked (no internet here).
The run is the Colab notebook's (test_colab_notebook.py), which trains this
config with SHRINK; tests/fixtures/tpu_dry_run.py holds its checks.
"""
import os
import re

from tests.conftest import ROOT
from tests.fixtures.tpu_dry_run import SHRINK
from vaegan_jax.configs import tpu_v3


def test_tpu_v3_config_is_the_tpu_recipe():
  config = tpu_v3.get_config()
  assert config.image_size == 256
  assert config.model.dtype == 'bfloat16'
  assert config.data.source == 'tfds' and config.data.tfds_download
  assert config.data.tfds_name == 'places365_small'
  assert config.data.tfds_eval_split == 'validation'
  assert config.batch_size % 8 == 0  # TPU v3-8: 8 cores.


def test_docs_give_the_same_shrink_overrides():
  with open(os.path.join(ROOT, 'docs', 'scaling.md')) as f:
    text = f.read()
  section = text[text.index('## Trying the TPU config on a CPU'):]
  given = dict(re.findall(r'--config\.([\w.]+)=(\S+)', section))
  given.pop('data.tfds_name')  # The user names a prepared dataset there.
  assert given == {k: str(v) for k, v in SHRINK.items()}

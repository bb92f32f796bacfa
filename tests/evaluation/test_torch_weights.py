"""torch_weights: torch.save files (zip and legacy) read without torch."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from tests.conftest import ROOT
from vaegan_jax.evaluation import torch_weights

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
# What tests/fixtures/make_metric_fixtures.py saved with torch.save.
TINY = {'a.weight': np.arange(12, dtype=np.float32).reshape(3, 4),
        'a.bias': np.array([1.5, -2.0, 0.25], np.float32),
        'b.count': np.array(7, np.int64),
        't.weight': np.arange(12, dtype=np.float32).reshape(3, 4).T}


@pytest.mark.parametrize('name', ['tiny_zip.pth', 'tiny_legacy.pth'])
def test_reads_both_torch_formats(name):
  state = torch_weights.load(os.path.join(FIXTURES, name))
  assert sorted(state) == sorted(TINY)
  for k, v in TINY.items():  # t.weight is a transposed view: strides count
    np.testing.assert_array_equal(state[k], v)
    assert state[k].dtype == v.dtype


def test_npz_round_trip(tmp_path):
  path = str(tmp_path / 'w.npz')
  torch_weights.save_npz(path, TINY)
  state = torch_weights.load(path)
  for k, v in TINY.items():
    np.testing.assert_array_equal(state[k], v)


def test_refuses_code_in_the_pickle(tmp_path):
  marker = tmp_path / 'ran'
  payload = pickle.dumps(_Exploit(str(marker)), protocol=2)
  path = tmp_path / 'evil.pth'
  with zipfile.ZipFile(path, 'w') as zf:
    zf.writestr('archive/data.pkl', payload)
  with pytest.raises(ValueError, match='not a tensor'):
    torch_weights.load(str(path))
  assert not marker.exists()


class _Exploit:

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    return (os.mkdir, (self.path,))


def test_clear_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match='does not exist'):
    torch_weights.load(str(tmp_path / 'missing.pth'))
  junk = tmp_path / 'junk.pth'
  junk.write_bytes(b'not a weights file at all')
  with pytest.raises(ValueError, match='torch'):
    torch_weights.load(str(junk))

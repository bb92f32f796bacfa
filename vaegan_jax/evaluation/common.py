"""The evaluator interface that the held-out modes and the protocols share.

An evaluator scores one model on one fixed set of images and masks:

  evaluators = common.from_config(config, modes=..., protocol=..., ...)
  for ev in evaluators:
    result = ev.run(params, scorers=scorers, baselines=('biharmonic',))
    print(ev.report(result))
    ev.write(result, out_dir)      # JSON (+ grid or masks)

Every evaluator fills with `fill_all` (the model's rows, then each classical
baseline, timed) and adds the metric networks' scores with `add_scores`.
"""
import abc
import importlib
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple


from vaegan_jax.evaluation import baselines as baselines_lib
from vaegan_jax.inference import api

# Row names: the model's default output, and its fidelity output (the fill
# best under PSNR / SSIM).
DEFAULT = 'default'
FIDELITY = 'fidelity'


def output_dir(workdir: str, shipped: Optional[str]) -> str:
  """Where results go: <workdir>/eval, or ./eval/<name> for a shipped model
  (`shipped`: its directory, which is package data)."""
  if shipped:
    return os.path.join('eval', os.path.basename(os.path.normpath(shipped)))
  return os.path.join(workdir, 'eval')


def fill_all(params, image, mask, *, baselines: Sequence[str] = (),
             fidelity: bool = True, batched: bool = True
             ) -> Tuple[Dict[str, object], Dict[str, float]]:
  """Fills every image with each method.

  Args:
    params: InpaintParams of the model.
    image: float [N, H, W, 3] in [0, 1] (batched), else a list of photos of
      different sizes [H_i, W_i, 3].
    mask: float {0, 1} [N, H, W, 1] or a list of [H_i, W_i, 1]; 1 = hole.
    baselines: names of `baselines.METHODS` rows to add.
    fidelity: add the model's fidelity row.
    batched: one call per method, else one per image.
  Returns:
    ({method: outputs like `image`}, {method: seconds in all}).
  """
  def model(**kwargs):
    return lambda x, m: api.inpaint(params, x, m > 0.5, **kwargs)
  fns = [(DEFAULT, model())]
  if fidelity:
    fns.append((FIDELITY, model(fidelity=True)))
  fns += [(method, lambda x, m, method=method:
           baselines_lib.inpaint_classical(method, x, m))
          for method in baselines]
  outputs, seconds = {}, {}
  for name, fn in fns:
    t = time.perf_counter()
    if batched:
      outputs[name] = fn(image, mask)
    else:
      outputs[name] = [fn(x[None], m[None])[0] for x, m in zip(image, mask)]
    seconds[name] = time.perf_counter() - t
  return outputs, seconds


def add_scores(rows: Dict[str, Dict[str, Dict]], extra) -> None:
  """Merges `network_metrics.score`'s {method: {group: values}} into rows."""
  for method, groups in extra.items():
    for group, values in groups.items():
      rows[method][group].update(values)


class Evaluator(abc.ABC):
  """One fixed evaluation set: `run` scores, `report` prints, `write` saves."""
  tag: str  # names the set in files and tables, e.g. '256px', 'lama_256'

  @abc.abstractmethod
  def run(self, params, *, scorers=None, baselines: Sequence[str] = ()
          ) -> Dict:
    """Scores `params` (and the `baselines` rows); returns a result dict."""

  @abc.abstractmethod
  def report(self, result) -> str:
    """The plain-text table (and targets) of a result."""

  @abc.abstractmethod
  def write(self, result, out_dir) -> List[str]:
    """Saves the result under `out_dir` (an epath.Path); returns the paths."""


def from_config(config, *, modes: Sequence = (), protocol: Optional[str] = None,
                **options) -> List[Evaluator]:
  """The evaluators that eval.py's flags ask for.

  Args:
    config: the model's training config (data source, image size).
    modes: crop sizes and/or 'photo' (`held_out.parse_modes`).
    protocol: 'lama' or 'nvidia' instead of the modes.
    **options: the evaluators' own options (`held_out.HeldOut`,
      `protocols.Protocol`); each takes those it knows.
  """
  if protocol:
    return [_evaluator('protocols', 'Protocol').from_options(
        config, protocol, **options)]
  held_out = _evaluator('held_out', 'HeldOut')
  return [held_out.from_options(config, mode, **options) for mode in modes]


# Evaluators that a config names (config.eval.evaluator): module, class.
BY_NAME = {'during_training': ('during_training', 'DuringTraining')}


def by_name(name: str, config, **options) -> Evaluator:
  """The evaluator a config names, built with its options."""
  if name not in BY_NAME:
    raise ValueError(f'evaluator {name!r} is not one of {sorted(BY_NAME)}.')
  return _evaluator(*BY_NAME[name]).from_options(config, **options)


def _evaluator(module: str, name: str):
  # By name, as big_vision's evaluators: the evaluators import this module.
  return getattr(importlib.import_module(f'vaegan_jax.evaluation.{module}'),
                 name)

"""Config checks that run before anything compiles."""
import difflib
import math

from etils import epath
import ml_collections

from vaegan_jax.configs import default
from vaegan_jax.data import masks
from vaegan_jax.evaluation import common as evaluators
from vaegan_jax.evaluation import during_training
from vaegan_jax import models
from vaegan_jax.training import losses
from vaegan_jax.training import optim

DATA_SOURCES = ('embedded', 'tfds', 'folder')


class ConfigError(ValueError):
  """An unusable config; the message says how to fix it."""


def flat_keys(config) -> list[str]:
  """Dotted paths of every leaf of a (nested) ConfigDict, e.g. 'model.dtype'."""
  keys = []
  for key, value in config.items():
    if isinstance(value, (ml_collections.ConfigDict, dict)):
      keys += [f'{key}.{sub}' for sub in flat_keys(value)]
    else:
      keys.append(key)
  return sorted(keys)


def _close(path: str, valid: list[str]) -> str:
  leaf = path.rsplit('.', 1)[-1]
  matches = difflib.get_close_matches(path, valid, n=4, cutoff=0.6)
  # A right leaf under a wrong parent ('modle.num_down') or vice versa.
  matches += [k for k in valid
              if k.rsplit('.', 1)[-1] == leaf and k not in matches]
  if not matches:
    return f'valid keys: {", ".join(valid)}'
  return 'did you mean ' + ' or '.join(f'{m!r}' for m in matches[:4]) + '?'


def check_paths(paths, config, *, what: str = 'override') -> None:
  """Raises ValueError naming close valid keys for paths not in `config`."""
  valid = flat_keys(config)
  groups = {k.rsplit('.', 1)[0] for k in valid if '.' in k}
  for path in paths:
    if path not in valid and path not in groups:
      raise ConfigError(f'Unknown config key {path!r} ({what}); '
                       f'{_close(path, valid)}')


def check_keys(config, reference) -> None:
  """Raises ValueError for keys in only one of `config` and `reference`.

  Args:
    config: the config about to be used.
    reference: a config with every valid key, e.g. configs/default.py's.
  """
  check_paths(flat_keys(config), reference, what='set in the config file')
  missing = sorted(set(flat_keys(reference)) - set(flat_keys(config)))
  if missing:
    raise ConfigError(f'Config lacks keys {missing}; start the config file '
                     'from configs/default.get_config() so that every key '
                     'has a value.')


def _check_range(name: str, value, lo, hi, *, lo_open=False, hi_open=False):
  ok = (math.isfinite(value)
        and (value > lo if lo_open else value >= lo)
        and (value < hi if hi_open else value <= hi))
  if not ok:
    interval = (('(' if lo_open else '[') + f'{lo}, {hi}'
                + (')' if hi_open else ']'))
    raise ValueError(f'{name}={value} is out of range; set --config.{name} '
                     f'to a value in {interval}.')


def validate(config, *, num_local_devices: int = 1,
             process_count: int = 1) -> None:
  """Every check of a training config, before anything compiles: its keys
  are configs/default.py's (check_keys), and its values are usable.

  Raises:
    ConfigError: saying how to fix it.
  """
  try:
    # A loss weight's own message first: it says which term lacks one.
    _check_loss(config.loss)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  check_keys(config, default.get_config())
  try:
    _validate(config, num_local_devices * process_count)
  except ConfigError:
    raise
  except ValueError as e:
    raise ConfigError(str(e)) from None


def _validate(config, num_devices: int) -> None:
  if config.batch_size < 1 or config.batch_size % num_devices:
    nearest = max(1, round(config.batch_size / num_devices)) * num_devices
    raise ValueError(
        f'batch_size={config.batch_size} is not a positive multiple of the '
        f'{num_devices} devices; set --config.batch_size to a multiple of '
        f'{num_devices}, e.g. {nearest}.')
  nets = models.create_networks(config.model)  # Checks each sub-config.
  factor = models.size_multiple(nets)
  if config.image_size % factor or config.image_size < factor:
    raise ValueError(
        f'image_size={config.image_size} must be a positive multiple of the '
        f'networks\' size multiple {factor} (2**num_down of the generator, '
        '2**num_layers of the discriminator); e.g. --config.image_size='
        f'{max(factor, round(config.image_size / factor) * factor)}.')
  if config.data.source not in DATA_SOURCES:
    raise ValueError(f'data.source must be one of {DATA_SOURCES}; got '
                     f'{config.data.source!r}.')
  if config.data.source == 'folder' and not config.data.folder:
    raise ValueError("data.source='folder' needs --config.data.folder=/path "
                     'to a folder of images.')
  if config.data.source == 'tfds' and not config.data.tfds_name:
    raise ValueError("data.source='tfds' needs --config.data.tfds_name "
                     '(e.g. places365_small).')
  _check_range('data.min_crop_scale', config.data.min_crop_scale, 0, 1,
               lo_open=True)
  _check_range('data.max_crop_scale', config.data.max_crop_scale,
               config.data.min_crop_scale, 1)
  try:
    masks.check_config(config.masks, config.image_size, config.image_size)
  except ValueError as e:
    raise ValueError(f'masks: {e}') from None
  _check_loss(config.loss)
  if config.init_from and not epath.Path(config.init_from).is_dir():
    raise ValueError(f'init_from={config.init_from!r} is not a directory; '
                     'give a training workdir or an exported model such as '
                     'pretrained/vaegan64.')
  for key in ('g_lr', 'd_lr'):
    _check_range(f'optim.{key}', config.optim[key], 0, math.inf,
                 lo_open=True, hi_open=True)
  _check_range('optim.ema_decay', config.optim.ema_decay, 0, 1, hi_open=True)
  if config.optim.schedule not in optim.SCHEDULES:
    raise ValueError(f'optim.schedule must be one of {optim.SCHEDULES}; '
                     f'got {config.optim.schedule!r}.')
  if config.num_steps < 1:
    raise ValueError(f'num_steps must be >= 1; got {config.num_steps}.')
  for key in ('log_every', 'image_every', 'checkpoint_every',
              'keep_checkpoints', 'max_nonfinite_skips'):
    if config[key] < 1:
      raise ValueError(f'{key} must be >= 1; got {config[key]}; set '
                       f'--config.{key}.')
  _check_range('lock_timeout', config.lock_timeout, 1, math.inf,
               hi_open=True)
  _check_eval(config)


def _check_eval(config) -> None:
  if config.eval_every < 0:
    raise ValueError(f'eval_every must be >= 0 (0: no held-out scores while '
                     f'training); got {config.eval_every}.')
  if config.eval.evaluator not in evaluators.BY_NAME:
    raise ValueError(f'eval.evaluator must be one of '
                     f'{sorted(evaluators.BY_NAME)}; got '
                     f'{config.eval.evaluator!r}.')
  if config.eval.num_images < 1:
    raise ValueError(f'eval.num_images must be >= 1; got '
                     f'{config.eval.num_images}.')
  during_training.best_mode(config.eval.best_metric)  # names a score


def _check_loss(loss_config) -> None:
  """Every named loss term has a weight, and every weight a term."""
  terms = set(losses.GENERATOR_TERMS) | set(losses.DISCRIMINATOR_TERMS)
  weights = set(loss_config.weights)
  if terms - weights:
    raise ValueError(f'loss terms {sorted(terms - weights)} have no weight; '
                     'add config.loss.weights.<term> to configs/default.py.')
  if weights - terms:
    raise ValueError(f'loss.weights {sorted(weights - terms)} name no loss '
                     f'term; the terms are {sorted(terms)} (losses.py).')
  for name in sorted(weights):
    _check_range(f'loss.weights.{name}', loss_config.weights[name], 0,
                 math.inf, hi_open=True)
  if loss_config.adv_kind not in losses.ADV_KINDS:
    raise ValueError(f'loss.adv_kind must be one of {losses.ADV_KINDS}; got '
                     f'{loss_config.adv_kind!r}.')
  if loss_config.recon_kind not in ('l1', 'mse'):
    raise ValueError("loss.recon_kind must be 'l1' or 'mse'; got "
                     f'{loss_config.recon_kind!r}.')

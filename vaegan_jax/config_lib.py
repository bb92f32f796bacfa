"""Config checks that run before anything compiles."""
from vaegan_jax import losses
from vaegan_jax import models

DATA_SOURCES = ('embedded', 'tfds', 'folder')


def validate(config, *, num_local_devices: int = 1,
             process_count: int = 1) -> None:
  """Raises ValueError, saying how to fix it, for an unusable config."""
  num_devices = num_local_devices * process_count
  if config.batch_size % num_devices:
    raise ValueError(
        f'batch_size={config.batch_size} is not divisible by the '
        f'{num_devices} devices; set --config.batch_size to a multiple of '
        f'{num_devices}.')
  factor = models.downsampling_factor(config.model)
  if config.image_size % factor or config.image_size < factor:
    raise ValueError(
        f'image_size={config.image_size} must be a positive multiple of the '
        f'downsampling factor {factor} (2**max(model.num_down, '
        'model.disc_layers)); e.g. --config.image_size='
        f'{max(factor, round(config.image_size / factor) * factor)}.')
  models.dtype_from_name(config.model.dtype)
  if config.data.source not in DATA_SOURCES:
    raise ValueError(f'data.source must be one of {DATA_SOURCES}; got '
                     f'{config.data.source!r}.')
  if config.loss.adv_kind not in losses.ADV_KINDS:
    raise ValueError(f'loss.adv_kind must be one of {losses.ADV_KINDS}; got '
                     f'{config.loss.adv_kind!r}.')
  if config.loss.recon_kind not in ('l1', 'mse'):
    raise ValueError("loss.recon_kind must be 'l1' or 'mse'; got "
                     f'{config.loss.recon_kind!r}.')
  if config.num_steps < 1:
    raise ValueError(f'num_steps must be >= 1; got {config.num_steps}.')
  for key in ('log_every', 'image_every', 'checkpoint_every'):
    if config[key] < 1:
      raise ValueError(f'{key} must be >= 1; got {config[key]}.')

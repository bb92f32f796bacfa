"""Networks by name: `config.model.inpainter` / `.discriminator` index this.

A name is also the key of the network's sub-config under config.model.
Generators and discriminators share one namespace.
"""
import dataclasses

REGISTRY = {}  # name -> linen Module class


def register(name: str):
  """Class decorator: makes a network selectable as `name` in the config."""
  def add(cls):
    if name in REGISTRY and REGISTRY[name] is not cls:
      raise ValueError(f'A network is already registered as {name!r}: '
                       f'{REGISTRY[name].__name__}.')
    REGISTRY[name] = cls
    return cls
  return add


def build(model_config, role: str, dtype):
  """The network that `model_config[role]` names, from its sub-config."""
  name = model_config[role]
  if name not in REGISTRY:
    raise ValueError(f'model.{role}={name!r} is not a registered network; '
                     f'choose one of {sorted(REGISTRY)} (models.register).')
  if name not in model_config:
    raise ValueError(f'model.{role}={name!r} needs its sub-config '
                     f'config.model.{name} (add it to configs/default.py).')
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in model_config[name].to_dict().items()}
  fields = {f.name for f in dataclasses.fields(REGISTRY[name])}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ValueError(f'config.model.{name} has keys {unknown} that '
                     f'{REGISTRY[name].__name__} does not take.')
  try:
    return REGISTRY[name](**kwargs, dtype=dtype)
  except (TypeError, ValueError) as e:
    raise ValueError(f'config.model.{name}: {e}') from None

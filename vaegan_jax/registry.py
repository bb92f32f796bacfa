"""Networks by name: `config.model.generator` / `.discriminator` index this.

A name is also the key of the network's sub-config under config.model.
Generators and discriminators share one namespace.
"""
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

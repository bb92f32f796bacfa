"""vaegan_jax: VAE-GAN image inpainting in JAX/Flax.

  from vaegan_jax import inpaint, load_params

Subpackages by role: `models` (networks), `training`, `data` (tf.data input
and masks), `inference` (the public surface), `evaluation`, `run` (workdir and
process plumbing).  docs/design.md has the map.
"""
__all__ = ['InpaintParams', 'inpaint', 'load_params']
__version__ = '0.1.0'


def __getattr__(name):
  # Imported on first use, so that modules without jax (run.workdir_lock)
  # load fast on their own.
  if name in __all__:
    from vaegan_jax.inference import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

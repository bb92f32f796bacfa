"""vaegan_jax: VAE-GAN image inpainting in JAX/Flax.

  from vaegan_jax import inpaint, load_params
"""
from vaegan_jax.inference import InpaintParams
from vaegan_jax.inference import inpaint
from vaegan_jax.inference import load_params

__all__ = ['InpaintParams', 'inpaint', 'load_params']
__version__ = '0.1.0'

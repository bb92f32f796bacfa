"""The public surface: `inpaint`, `load_params` and the file CLI.

`api` holds the two functions; `inputs` checks what users pass; `whole_photo`
fills photos larger than the training size, with texture from
`patch_synthesis` / `patch_match`; `export` writes a servable model; `cli` is
the command line.
"""
from vaegan_jax.inference.api import (DEFAULT_MODEL, TEXTURES, InpaintParams,
                                      inpaint, load_params)

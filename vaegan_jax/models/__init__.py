"""The networks and everything that defines parameters.

`create_networks(config.model)` builds the generator side (prior, posterior,
G) and the discriminator chosen by name from `REGISTRY`; `init_params` makes
their parameters.  Modules: `inpainters` (the generators and their checkpoint
surgery), `discriminators`, `layers`, `contextual_attention`, `fills`
(initial hole fills), `registry`.
"""
from vaegan_jax.models.inpainters import (INITIAL_FILLS, AttentionInpainter,
                                          LatentInpainter, Networks,
                                          AttentionGenerator, VAEInpainter,
                                          create_networks, dtype_from_name,
                                          init_params, size_multiple)
from vaegan_jax.models.registry import REGISTRY, build, register

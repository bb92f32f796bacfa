"""Tiny config for tests: a few seconds per step on CPU."""
from vaegan_jax.configs import default


def get_config():
  config = default.get_config()
  config.name = 'test'
  config.image_size = 16
  config.model.vae.base_channels = 8
  config.model.vae.max_channels = 16
  config.model.vae.num_down = 2
  config.model.vae.latent_channels = 4
  config.model.vae.dilations = (1, 2)
  config.model.vae.encoder_channels = 8
  config.model.attention.base_channels = 8
  config.model.attention.max_channels = 16
  config.model.attention.num_down = 2
  config.model.attention.latent_channels = 4
  config.model.attention.dilations = (1, 2)
  config.model.attention.encoder_channels = 8
  config.model.attention.attention_channels = 8
  config.model.attention.fill_iterations = 20
  config.model.multiscale.channels = 8
  config.model.multiscale.max_channels = 16
  config.model.multiscale.num_layers = 2
  config.model.patch.channels = 8
  config.model.patch.max_channels = 16
  config.model.patch.num_layers = 2
  config.batch_size = 8
  config.optim.warmup_steps = 0
  config.num_steps = 4
  config.log_every = 2
  config.image_every = 2
  config.checkpoint_every = 2
  config.keep_checkpoints = 2
  config.data.shuffle_buffer = 16
  return config

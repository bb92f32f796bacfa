"""Tiny config for tests: a few seconds per step on CPU."""
from vaegan_jax.configs import default


def get_config():
  config = default.get_config()
  config.name = 'test'
  config.image_size = 16
  default.set_sizes(
      config, inpainters=dict(base_channels=8, max_channels=16, num_down=2,
                              latent_channels=4, dilations=(1, 2),
                              encoder_channels=8),
      discriminators=dict(channels=8, max_channels=16, num_layers=2))
  config.model.attention.attention_channels = 8
  config.model.attention.fill_iterations = 20
  config.batch_size = 8
  config.optim.warmup_steps = 0
  config.num_steps = 4
  config.log_every = 2
  config.image_every = 2
  config.checkpoint_every = 2
  config.eval_every = 0  # tests that score while training turn it on
  config.eval.num_images = 8
  config.keep_checkpoints = 2
  config.data.shuffle_buffer = 16
  return config

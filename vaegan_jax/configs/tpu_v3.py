"""TPU v3-8: 256x256 inpainting on a TFDS dataset, bf16 compute.

  python train.py --config configs/tpu_v3.py
  python train.py --config configs/tpu_v3.py \\
      --config.data.tfds_name=celeb_a --config.data.data_dir=gs://BUCKET/tfds

The global batch is split over the 8 cores (8 per core).  Params and
optimizer state stay float32; convolutions run in bfloat16.  On a pod slice
every worker runs the same command with --config.batch_size=8*cores and a
gs:// --workdir; docs/scaling.md has the gcloud commands.
"""
from vaegan_jax.configs import default


def get_config():
  config = default.get_config()
  config.name = 'tpu_v3'
  config.image_size = 256

  config.data.source = 'tfds'
  config.data.tfds_name = 'places365_small'
  config.data.tfds_split = 'train'
  config.data.tfds_eval_split = 'validation'
  config.data.data_dir = ''       # e.g. gs://your-bucket/tensorflow_datasets
  config.data.tfds_download = True
  config.data.min_crop_scale = 0.5
  config.data.shuffle_buffer = 10_000
  config.data.prefetch = 4

  # Every network gets the same sizes (default.set_sizes), so that
  # --config.model.inpainter=vae compares like with like.
  default.set_sizes(
      config, inpainters=dict(base_channels=48, max_channels=384, num_down=4,
                              latent_channels=64, encoder_channels=32,
                              dilations=(1, 2, 4, 8, 16, 1)),
      discriminators=dict(channels=64, max_channels=384, num_layers=4))
  config.model.attention.attention_channels = 64
  config.model.dtype = 'bfloat16'

  config.loss.weights.r1 = 0.001
  config.optim.schedule = 'cosine'
  config.optim.warmup_steps = 2000

  config.batch_size = 64          # 8 per TPU v3 core.
  config.num_steps = 300_000
  config.log_every = 100
  config.image_every = 2000
  config.checkpoint_every = 5000
  config.eval_every = 5000
  config.keep_checkpoints = 3
  return config

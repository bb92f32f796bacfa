"""The shipped model pretrained/vaegan64: configs/default.py, trained longer.

  python train.py --config configs/pretrained_64.py
  python -m vaegan_jax.inference.export --workdir workdirs/pretrained_64 \
      --output pretrained/vaegan64

The 'attention' generator (models.AttentionInpainter) starts from
pretrained/vaegan64_r1, the project's earlier 'vae' model (its
prior, and its generator as the new generator's base; see
train_loop.init_from); the attention layers and D start fresh.  The
schedule is constant after warmup, so stopping this run at step S gives the
same weights as a run with num_steps=S (runs are deterministic per step,
resumed ones too).  The shipped weights are step 4002 (77 min on the
2-core CPU, shared with test runs; stopped by SIGTERM, then exported).
"""
from vaegan_jax.configs import default


def get_config():
  config = default.get_config()
  config.name = 'pretrained_64'
  config.init_from = 'pretrained/vaegan64_r1'
  config.num_steps = 12000
  config.checkpoint_every = 250
  config.keep_checkpoints = 40
  return config

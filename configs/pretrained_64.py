"""The shipped model pretrained/vaegan64: configs/default.py, trained longer.

  python train.py --config configs/pretrained_64.py
  python -m vaegan_jax.export --workdir workdirs/pretrained_64 \
      --output pretrained/vaegan64

The shipped weights are step 9000 of this config on the embedded photos:
99 min on the 2-core CPU, shared with test runs (about 70 min alone), then
stopped by SIGTERM and exported.  (The old scikit-image model was step
12000.)  The schedule is constant after warmup,
so stopping this run at step S gives the same weights as a run with
num_steps=S (runs are deterministic per step, resumed ones too).
"""
from configs import default


def get_config():
  config = default.get_config()
  config.name = 'pretrained_64'
  config.num_steps = 12000
  config.checkpoint_every = 500
  config.keep_checkpoints = 30
  return config

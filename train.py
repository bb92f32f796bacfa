"""Trains the VAE-GAN inpainting model.

  python train.py --config configs/default.py            # CPU, embedded data
  python train.py --config configs/tpu_v3.py             # TPU v3-8, TFDS
  python train.py --config configs/default.py --config.num_steps=100 \\
      --workdir /tmp/run

Re-running the same command resumes from the latest checkpoint in --workdir.
The flags and the loop: vaegan_jax/training/main.py (also `vaegan-train`).
"""
from absl import flags

from vaegan_jax.training import main

flags.adopt_module_key_flags(main)  # --help lists them

if __name__ == '__main__':
  main.run()

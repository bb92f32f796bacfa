"""Scores a trained model on held-out photos with fixed masks.

  python eval.py --workdir workdirs/default
  python eval.py --workdir workdirs/default --baselines all
  python eval.py --workdir pretrained/vaegan64 --modes photo
  python eval.py --workdir W --protocol lama --tfds_name places365_small \\
      --image_size 256 --fid_weights F

The flags and the modes: vaegan_jax/evaluation/main.py (also installed as
`vaegan-eval`).
"""
from absl import flags

from vaegan_jax.evaluation import main

flags.adopt_module_key_flags(main)  # --help lists them

if __name__ == '__main__':
  main.run()

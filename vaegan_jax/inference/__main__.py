"""python -m vaegan_jax.inference: the file CLI (vaegan_jax/inference/cli.py)."""
import sys

from vaegan_jax.inference import cli

sys.exit(cli.main())

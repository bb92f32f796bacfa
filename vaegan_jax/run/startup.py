"""Process start-up shared by the entry points (train, eval, the CLIs).

`quiet_native_logs` runs before TensorFlow or XLA load; `prepare` after the
flags are parsed.  Process-wide settings live here and nowhere else: library
modules never change them on import.
"""
import os
import sys


def quiet_native_logs() -> None:
  """Keeps TensorFlow's and XLA's C++ start-up chatter off the terminal.

  Must run before TensorFlow is imported; a value the user set wins.
  """
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')


# XLA's elemental emitters compile CPU programs in about half the time of
# its fusion emitters and run inference no slower (docs/benchmarks.md §5);
# a file CLI call is mostly compile.
QUICK_CPU_COMPILE = '--xla_cpu_use_fusion_emitters=false'


def quick_cpu_compile() -> None:
  """Compiles CPU programs with XLA's elemental emitters.

  Must run before JAX creates its backend; a choice the user made in
  XLA_FLAGS wins.  Other backends ignore the flag.
  """
  flags = os.environ.get('XLA_FLAGS', '')
  if 'xla_cpu_use_fusion_emitters' not in flags:
    os.environ['XLA_FLAGS'] = (flags + ' ' + QUICK_CPU_COMPILE).strip()


def use_compile_cache() -> None:
  """Keeps compiled code on disk between runs of the inference commands:
  compiling the model and the patch search's levels is most of a first
  run's time.  $JAX_COMPILATION_CACHE_DIR, else ~/.cache/vaegan_jax/jax."""
  import jax  # pylint: disable=g-import-not-at-top
  path = os.environ.get('JAX_COMPILATION_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'vaegan_jax', 'jax')
  jax.config.update('jax_compilation_cache_dir', path)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)


def prepare(*, verbosity_given: bool = False, uses_tf: bool = True) -> None:
  """Logging, device and error-report settings for an entry point.

  Args:
    verbosity_given: the user passed --verbosity; otherwise absl logs only
      warnings (orbax and TF log every save at INFO).
    uses_tf: the process runs tf.data; TF is then kept off GPUs and TPUs.
  """
  from absl import logging  # pylint: disable=g-import-not-at-top
  if not verbosity_given:
    logging.set_verbosity(logging.WARNING)
  if uses_tf:
    keep_tf_on_host()
  mute_closed_loop_noise()


def keep_tf_on_host() -> None:
  """Hides GPUs and TPUs from TensorFlow: they belong to JAX.

  Called before TF touches a device; TF only decodes and crops on the host.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for kind in ('GPU', 'TPU'):
    try:
      tf.config.set_visible_devices([], kind)
    except (RuntimeError, ValueError):
      pass  # Already initialised, or no such device kind.


def mute_closed_loop_noise() -> None:
  """Drops the 'Event loop is closed' reports of aborted reads and writes.

  When one array of a checkpoint fails to read or write, orbax closes its
  event loop while the other arrays are still finishing; each of those
  reports an unraisable RuntimeError that says nothing about the damage.
  Process-wide (it wraps sys.unraisablehook), so only entry points call it.
  """
  previous = sys.unraisablehook
  if getattr(previous, 'mutes_closed_loop', False):
    return

  def hook(unraisable):
    if not (isinstance(unraisable.exc_value, RuntimeError)
            and str(unraisable.exc_value) == 'Event loop is closed'):
      previous(unraisable)

  hook.mutes_closed_loop = True
  sys.unraisablehook = hook

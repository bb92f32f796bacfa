"""Training faults: non-finite updates and termination signals.

* A step whose loss or gradient norm is NaN or inf keeps the old state
  (`update_is_finite`, `keep_if_finite`, inside the jitted step) and
  reports it in its metrics; `SkipCounter` counts the skips on the host and
  stops the run after too many in a row.
* `SignalFlag` turns SIGTERM / SIGINT into a flag that the training loop
  polls between steps, so it can write a checkpoint before it exits.
"""
import signal
import threading
from typing import Optional

from absl import logging
import jax
from jax import lax
import jax.numpy as jnp


def update_is_finite(total_loss, grad_norm) -> jax.Array:
  """bool scalar: the (pmean'd) loss and global gradient norm are finite.

  This decides the same skips as testing the gradients and the whole new
  state leaf by leaf (`all_finite`), at the cost of two scalar tests instead
  of one reduction per leaf (hundreds of small ops per step):
  * grad_norm = sqrt(sum of g**2 over every leaf).  A NaN or inf anywhere in
    the gradients makes the sum NaN or inf, so a finite norm means finite
    gradients with every g**2 < FLT_MAX.  (A norm whose square overflows,
    > 1.8e19, is skipped too, which such a step deserves.)
  * Given finite gradients and a finite old state, the update of
    optim.make_optimizer is finite: clip_by_global_norm scales by
    min(1, c / norm); Adam's moments are convex combinations of finite
    values (|mu| <= max |g| < 1.8e19, nu <= max g**2 < FLT_MAX); the step
    lr * m_hat / (sqrt(v_hat) + eps) divides m_hat = mu / (1 - b1**t)
    (at most 2 * mu for b1 = 0.5) by at least eps = 1e-8, so it is below
    4e27 * lr, and 0 if v_hat overflows to inf.  Params + a finite step
    is finite, and the EMA is a convex combination of finite params.
  * The old state is finite by induction: initialisation is finite, every
    applied update is finite (above), a skipped one keeps the old state, and
    checkpoint.save refuses non-finite trees, so a restored state is too.
  The only cases left out are params within one step of FLT_MAX (3.4e38).
  """
  return jnp.isfinite(total_loss) & jnp.isfinite(grad_norm)


def all_finite(tree) -> jax.Array:
  """bool scalar: every floating leaf of `tree` is free of NaN and inf.

  The thorough, per-leaf test; the train steps use `update_is_finite`.
  """
  checks = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  return jnp.all(jnp.stack(checks)) if checks else jnp.array(True)


def keep_if_finite(ok: jax.Array, new, old):
  """`new` if the scalar `ok` is true, else `old` (same tree structure)."""
  # One conditional, not a select per leaf: per-leaf selects tie every
  # update to the global finiteness test and made XLA:CPU compile the G step
  # 5x slower.
  return lax.cond(ok, lambda: new, lambda: old)


class NonFiniteError(RuntimeError):
  """Too many consecutive updates had a non-finite loss or gradient."""


class SkipCounter:
  """Counts skipped (non-finite) updates; raises after `max_consecutive`."""

  def __init__(self, max_consecutive: int):
    self.max_consecutive = max_consecutive
    self.total = 0
    self.streak = 0

  def update(self, step: int, skipped_parts) -> None:
    """Records iteration `step`; `skipped_parts` names the skipped updates.

    Raises:
      NonFiniteError: naming the step, after max_consecutive skips in a row.
    """
    if not skipped_parts:
      self.streak = 0
      return
    self.total += 1
    self.streak += 1
    logging.warning('Step %d: non-finite loss or gradient in the %s update; '
                    'skipped it (%d in a row, %d in total).', step,
                    ' and '.join(skipped_parts), self.streak, self.total)
    if self.streak >= self.max_consecutive:
      raise NonFiniteError(
          f'Stopped at step {step}: {self.streak} consecutive updates '
          f'(steps {step - self.streak + 1}..{step}) had a non-finite loss '
          'or gradient, so none was applied and no checkpoint holds a NaN. '
          'Lower --config.optim.g_lr / d_lr, enable --config.optim.grad_clip '
          'or check the data; rerun to resume from the last checkpoint.')


class Interrupted(Exception):
  """Training stopped on a signal after writing a checkpoint."""

  def __init__(self, signum: int, step: int):
    self.signum = signum
    self.step = step
    super().__init__(
        f'Received {signal.Signals(signum).name}: wrote the checkpoint of '
        f'step {step} and stopped. Rerun the same command to resume.')


class SignalFlag:
  """Context manager: the first SIGTERM/SIGINT sets `signum` (a flag).

  A second signal gets the default behaviour (terminate / KeyboardInterrupt),
  so a stuck save can still be interrupted.  Outside the main thread Python
  cannot install handlers; then the flag never rises.
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signum: Optional[int] = None
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    self.signum = signum
    previous = self._previous.get(signum)
    signal.signal(signum, signal.SIG_DFL if previous is None else previous)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}
    return False

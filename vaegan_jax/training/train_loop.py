"""The training loop: resume (or fine-tune), train, log, sample, checkpoint.

  train(config, workdir)

Faults (docs/reliability.md): a non-finite update is skipped and counted
and too many in a row stop the run; SIGTERM / SIGINT write a checkpoint of
the current step and raise `faults.Interrupted`; the loop resumes from the
newest readable checkpoint.  Data and noise are keyed by (seed, step), so a
resumed run continues exactly as an uninterrupted one.
"""
import functools
import math
import signal
import time

from absl import logging
from clu import metric_writers
from etils import epath
import flax
import flax.jax_utils
from flax.traverse_util import flatten_dict
import jax

from vaegan_jax.data import eval_sets
from vaegan_jax.data import input_pipeline
from vaegan_jax.evaluation import common as evaluators
from vaegan_jax.evaluation import during_training
from vaegan_jax.run import checkpoint
from vaegan_jax.run import config_file
from vaegan_jax.run import distributed
from vaegan_jax.run import image_io
from vaegan_jax.run import workdir_lock
from vaegan_jax.training import config_lib
from vaegan_jax.training import faults
from vaegan_jax.training import train_lib


# In multi-process runs the processes agree on a signal stop every this many
# steps (one tiny all-gather), so that all of them save the same step.
STOP_SYNC_EVERY = 10


def itstime(step: int, every: int, total: int) -> bool:
  """True every `every` steps and at the last step."""
  return step % every == 0 or step == total


def _format_eta(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  return f'{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


# The numbers a person watches; TensorBoard gets every term.
PROGRESS_KEYS = (('d_total', 'D'), ('g_total', 'G'), ('hole_l1', 'hole L1'))


def progress_line(done: int, total: int, scalars) -> str:
  """step, speed, ETA, the two totals and the hole L1, on one line."""
  speed = scalars['steps_per_sec']
  eta = (total - done) / max(speed, 1e-9)
  shown = ' '.join(f'{label} {scalars[k]:.4g}' for k, label in PROGRESS_KEYS
                   if k in scalars)
  skipped = (f" | {int(scalars['nonfinite_skips'])} skipped"
             if scalars.get('nonfinite_skips') else '')
  return (f'step {done}/{total} ({100 * done / total:.0f}%) | {speed:.2f} '
          f'steps/s | ETA {_format_eta(eta)} | {shown}{skipped}')


class _Scores:
  """The held-out scores every config.eval_every steps: TensorBoard
  ('eval/<score>'), the progress output, and <workdir>/best (the
  checkpoint best by config.eval.best_metric, kept by orbax's best_fn)."""

  def __init__(self, config, workdir: str, is_chief: bool, writer):
    self.config, self.workdir = config, workdir
    self.is_chief, self.writer = is_chief, writer
    self.evaluator = self.best = None

  def __call__(self, step: int, p_state) -> None:
    config = self.config
    if self.evaluator is None:  # Built at the first evaluation only.
      self.evaluator = evaluators.by_name(
          config.eval.evaluator, config, num_images=config.eval.num_images)
      metric = config.eval.best_metric
      self.best = checkpoint.create_best_manager(
          self.workdir, metric, during_training.best_mode(metric))
      if self.is_chief:
        config_file.write(str(epath.Path(self.workdir) / checkpoint.BEST_DIR),
                          config)
    ema = p_state.ema_params
    result = self.evaluator.run({k: ema[k] for k in ('prior', 'generator')})
    scalars = {f'eval/{k}': result[k] for k in during_training.SCORES}
    scalars['eval/seconds'] = result['seconds']
    self.writer.write_scalars(step, scalars)
    if self.is_chief:
      print(f'step {step}/{config.num_steps} | '
            f'{self.evaluator.report(result)} | {result["seconds"]:.1f} s',
            flush=True)
    best = result[config.eval.best_metric]
    if not math.isfinite(best):  # orbax could not rank it
      logging.warning('eval/%s is %s at step %d: not a candidate for the best '
                      'checkpoint.', config.eval.best_metric, best, step)
      return
    checkpoint.save(self.best, flax.jax_utils.unreplicate(p_state),
                    metrics={k: result[k] for k in during_training.SCORES})


def init_from(state: train_lib.TrainState, inpainter, source: str):
  """`state` with the weights of `source`, a workdir or an exported model.

  The inpainter maps `source`'s weights and their EMA onto its own layout
  (`LatentInpainter.init_from`); D's weights come along when `source` has
  them, else D starts fresh.  The step, optimizer states and RNG stay as in
  `state` (fresh).

  Raises:
    ValueError: `source`'s weights do not fit this config's networks.
  """
  raw, step = checkpoint.restore_raw(source)
  ema = raw.get('ema_params') or raw.get('g_params')
  fresh = jax.device_get(state.g_params)
  g_params, notes = inpainter.init_from(raw.get('g_params') or ema, fresh)
  ema, _ = inpainter.init_from(
      dict(ema, posterior=ema.get('posterior', g_params['posterior'])), fresh)
  checkpoint.check_shapes(source, g_params, state.g_params)
  checkpoint.check_shapes(source, ema, state.ema_params)
  d_params = raw.get('d_params')
  if d_params is None:
    d_params = state.d_params
    notes.append('it has no discriminator, so D starts fresh')
  checkpoint.check_shapes(source, d_params, state.d_params)
  print(f'Starting from the weights of {source} (step {step})'
        + ''.join(f'; {n}' for n in notes) + '.', flush=True)
  as_state = lambda tree, like: jax.tree_util.tree_map(  # pylint: disable=unnecessary-lambda-assignment
      lambda x, y: jax.numpy.asarray(x, y.dtype), tree, like)
  return state.replace(g_params=as_state(g_params, state.g_params),
                       ema_params=as_state(ema, state.ema_params),
                       d_params=as_state(d_params, state.d_params))


def _count_skips(skips: faults.SkipCounter, step: int, d_skipped, g_skipped):
  """Feeds one iteration's (replicated) skip flags to `skips`."""
  parts = [name for name, flag in (('discriminator', d_skipped),
                                   ('generator', g_skipped))
           if float(flag[0]) > 0]
  skips.update(step, parts)


def _write_samples(writer, workdir, step, sample_fn, params, sample_batch):
  """Writes the grid of `sample_fn` on `sample_batch()` (held-out images)."""
  out = jax.device_get(sample_fn(params, sample_batch()))
  grid = image_io.make_grid([out['masked'], out['output'], out['truth']])
  writer.write_images(step, {'samples/masked|output|truth': grid[None]})
  sample_dir = epath.Path(workdir) / 'samples'
  sample_dir.mkdir(parents=True, exist_ok=True)
  image_io.save_png(sample_dir / f'step_{step:07d}.png', grid)
  image_io.save_png(sample_dir / 'latest.png', grid)


def _claim_workdir(workdir: str, timeout_s: float, force: bool):
  """This run's claim on `workdir` (process 0's Lease; None elsewhere).

  Process 0 claims; the others check that they see its claim, so the
  processes of one run share it and two runs still exclude each other.

  Raises:
    workdir_lock.WorkdirLocked: another live run holds `workdir` (on every
      process).
    RuntimeError: a process cannot see process 0's claim (no shared workdir).
  """
  lease, refusal = None, None
  if jax.process_index() == 0:
    try:
      lease = workdir_lock.claim(workdir, timeout_s, force=force,
                                 processes=jax.process_count())
    except workdir_lock.WorkdirLocked as e:
      refusal = e
  run_id = distributed.broadcast_text(lease.run_id if lease else '')
  if refusal:
    raise refusal
  if not run_id:
    raise workdir_lock.WorkdirLocked(
        f'Process 0 could not claim workdir={workdir!r}; it is held by '
        f'{workdir_lock.describe(workdir_lock.current(workdir))}.')
  unseen = (jax.process_index() > 0
            and (workdir_lock.current(workdir) or {}).get('run_id') != run_id)
  try:
    config_file.raise_unless_shared(workdir, 'claim file', unseen)
  except RuntimeError:
    if lease:
      lease.release()
    raise
  return lease


def _stop_lost(lease, workdir: str):
  if lease:
    lease.check()
  raise workdir_lock.LeaseLost(
      f'Process 0 lost its claim on workdir={workdir!r}: another run took '
      'it over. This run stops without saving.')


def train(config, workdir: str, *, force_unlock: bool = False
          ) -> train_lib.TrainState:
  """Trains (resuming from the latest checkpoint in `workdir`) to num_steps.

  A run without a checkpoint yet starts from config.init_from's weights
  when set (fine-tuning); a restarted fine-tune resumes its own checkpoint.
  The run holds an exclusive claim on `workdir` (workdir_lock) from before
  anything compiles until it returns; `force_unlock` takes over a live one.

  Writes TensorBoard scalars (every loss term, steps/s), an image grid
  (masked | output | truth) and orbax checkpoints under `workdir`; prints a
  progress line with steps/s and ETA.  Returns the final unreplicated state.

  Raises:
    config_lib.ConfigError: an unusable config (before anything compiles).
    workdir_lock.WorkdirLocked: another run holds `workdir`.
    workdir_lock.LeaseLost: another run took `workdir` over (nothing saved).
    Interrupted: after SIGTERM / SIGINT, once the current step is saved.
    faults.NonFiniteError: after config.max_nonfinite_skips skipped updates
      in a row (no checkpoint holds a NaN).
  """
  config_lib.validate(config, num_local_devices=jax.local_device_count(),
                      process_count=jax.process_count())
  checkpoint.check_writable(workdir)
  lease = _claim_workdir(workdir, config.lock_timeout, force_unlock)
  try:
    return _train(config, workdir, lease)
  finally:
    if lease:
      lease.release()


def _train(config, workdir: str, lease) -> train_lib.TrainState:
  """`train` once the workdir is claimed (`lease`: process 0's, or None)."""
  is_chief = jax.process_index() == 0
  multi_process = jax.process_count() > 1
  if is_chief:
    config_file.write(workdir, config)
  config_file.check_shared(workdir)
  nets, g_tx, d_tx, state = train_lib.create_train_state(
      config, jax.random.PRNGKey(config.seed))
  manager = checkpoint.create_manager(workdir, config.keep_checkpoints)
  state, start_step = checkpoint.restore_latest(manager, state)
  if start_step == 0 and config.init_from:
    state = init_from(state, nets.inpainter, config.init_from)
  writer = metric_writers.create_default_writer(workdir,
                                                just_logging=not is_chief)
  if start_step >= config.num_steps:
    logging.info('Nothing to do: checkpoint step %d >= num_steps %d.',
                 start_step, config.num_steps)
    return state
  if start_step == 0:
    flat = flatten_dict(config.to_dict(), sep='.')
    writer.write_hparams({k: str(v) for k, v in sorted(flat.items())})
  elif is_chief:
    print(f'Resuming from step {start_step}.', flush=True)

  train_iter = input_pipeline.create_train_iterator(
      config, num_local_devices=jax.local_device_count(),
      start_step=start_step, process_index=jax.process_index(),
      process_count=jax.process_count())
  # The grid's 8 samples: the first view of the first held-out images,
  # loaded at the first grid (a short run may write none).
  @functools.cache
  def sample_batch():
    held_out = eval_sets.load_eval_data(config, num_masks_per_image=1,
                                        views=eval_sets.EVAL_VIEWS[:1])
    return {k: held_out[k][:8] for k in ('image', 'mask')}
  sample_fn = jax.jit(functools.partial(train_lib.sample_images, nets))
  scores = _Scores(config, workdir, is_chief, writer)
  p_d_step, p_g_step = train_lib.make_pmapped_steps(config, nets, g_tx, d_tx)
  p_state = flax.jax_utils.replicate(state)
  del state

  skips = faults.SkipCounter(config.max_nonfinite_skips)
  # Skip flags are read one iteration late, so the host never waits for the
  # device just to count them.
  pending = None
  t_last, s_last = time.time(), start_step
  with faults.SignalFlag() as stop:
    for step in range(start_step, config.num_steps):
      batch = next(train_iter)
      p_state, d_metrics = p_d_step(p_state, batch)
      p_state, g_metrics = p_g_step(p_state, batch)
      done = step + 1
      if pending:
        _count_skips(skips, *pending)
      pending = (done, d_metrics['d_skipped'], g_metrics['g_skipped'])
      if itstime(done, config.log_every, config.num_steps):
        _count_skips(skips, *pending)
        pending = None
        metrics = jax.device_get(flax.jax_utils.unreplicate(
            {**d_metrics, **g_metrics}))
        now = time.time()
        steps_per_sec = (done - s_last) / max(now - t_last, 1e-9)
        t_last, s_last = now, done
        scalars = {k: float(v) for k, v in metrics.items()}
        scalars['steps_per_sec'] = steps_per_sec
        scalars['images_per_sec'] = steps_per_sec * config.batch_size
        scalars['nonfinite_skips'] = skips.total
        writer.write_scalars(done, scalars)
        if is_chief:
          print(progress_line(done, config.num_steps, scalars), flush=True)
      if is_chief and itstime(done, config.image_every, config.num_steps):
        ema = flax.jax_utils.unreplicate(p_state.ema_params)
        _write_samples(writer, workdir, done, sample_fn, ema, sample_batch)
      if config.eval_every and done % config.eval_every == 0:
        scores(done, p_state)
      saved = itstime(done, config.checkpoint_every, config.num_steps)
      if saved and lease:
        lease.confirm()  # Sees a takeover now, not at the next heartbeat.
      signum, lost = stop.signum, bool(lease and lease.lost)
      if multi_process:
        # Every process must stop (and save) at the same step.
        synced = itstime(done, STOP_SYNC_EVERY, config.num_steps) or saved
        agreed, lost = (distributed.any_process_each(
            (signum is not None, lost)) if synced else (False, False))
        signum = (signum or signal.SIGTERM) if agreed else None
      if lost:  # Before the save: the workdir's checkpoints are not ours.
        _stop_lost(lease, workdir)
      if saved:
        checkpoint.save(manager, flax.jax_utils.unreplicate(p_state))
      if signum is not None:
        if not saved:
          checkpoint.save(manager, flax.jax_utils.unreplicate(p_state),
                          force=True)
        writer.flush()
        raise faults.Interrupted(signum, done)
  if pending:
    _count_skips(skips, *pending)
  writer.flush()
  return jax.device_get(flax.jax_utils.unreplicate(p_state))

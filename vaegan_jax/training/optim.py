"""The optimizers: Adam with warmup, a schedule and gradient clipping."""
import optax

SCHEDULES = ('constant', 'cosine')  # optim.schedule (checked by validate)


def make_optimizer(lr: float, optim_config, num_steps: int):
  """Adam (beta1 0.5 by default) with warmup, schedule and grad clipping."""
  warmup = int(optim_config.warmup_steps)
  # Warmup starts at lr / warmup so that the very first update is not zero.
  if optim_config.schedule == 'cosine':
    schedule = optax.warmup_cosine_decay_schedule(
        lr / max(warmup, 1), lr, warmup, max(num_steps, warmup + 1),
        end_value=0.0)
  else:
    schedule = (optax.warmup_constant_schedule(lr / warmup, lr, warmup)
                if warmup > 0 else optax.constant_schedule(lr))
  parts = []
  if optim_config.grad_clip and optim_config.grad_clip > 0:
    parts.append(optax.clip_by_global_norm(optim_config.grad_clip))
  parts.append(optax.adam(schedule, b1=optim_config.b1, b2=optim_config.b2))
  return optax.chain(*parts)

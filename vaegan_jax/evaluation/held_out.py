"""Held-out evaluation: the model and reference rows, side by side.

Three modes, the same rows and metrics in each:
  crops at S px   fixed square views of the held-out photos with fixed masks
                  (eval_sets.load_eval_data), S = the training size and
                  256 by default;
  'photo'         whole held-out photos at their own size (long side <= 1024)
                  with object-like holes (eval_sets.load_eval_photos).
Every method sees the same images and masks.  Results are reported overall
and per hole-ratio bucket: PSNR, SSIM, hole L1, detail ratio, SWD on hole
patches and seconds per image.  Two rows come from the model:
  default    the default output of `inpaint` (what a user gets);
  fidelity   the fidelity output, `inpaint(..., fidelity=True)`: the fill
             without sampled texture, for distortion metrics.
`HeldOut` is the mode's evaluator (evaluation/common.py).
"""
import json
from typing import Dict, List, Sequence

import jax
import numpy as np

from vaegan_jax.data import eval_sets
from vaegan_jax.evaluation import common
from vaegan_jax.evaluation import metrics
from vaegan_jax.evaluation import network_metrics
from vaegan_jax.inference import api
from vaegan_jax.run import image_io

DEFAULT, FIDELITY = common.DEFAULT, common.FIDELITY
PHOTO = 'photo'
CROP_VIEWS = {  # views of each held-out photo per crop size; masks per view
    'small': (eval_sets.EVAL_VIEWS, 8),
    'large': (eval_sets.EVAL_VIEWS[:6], 1),  # whole + half-side views
}
_LARGE = 128  # crop sizes from here on use the 'large' views


def default_modes(image_size: int):
  """[training size, 256, 'photo'] (without repeats)."""
  return list(dict.fromkeys([int(image_size), 256, PHOTO]))


def parse_modes(spec: str, image_size: int):
  """'' -> default_modes; '64,256,photo' -> [64, 256, 'photo']."""
  if not spec:
    return default_modes(image_size)
  modes = []
  for item in (s.strip() for s in spec.split(',') if s.strip()):
    if item == PHOTO:
      modes.append(PHOTO)
    elif item.isdigit() and int(item) >= 8:
      modes.append(int(item))
    else:
      raise ValueError(f"--modes: {item!r} is neither a crop size >= 8 nor "
                       f"'{PHOTO}'.")
  return modes


def mode_tag(mode) -> str:
  return PHOTO if mode == PHOTO else f'{mode}px'


def _data(config, mode, num_masks_per_image, photo_max_side):
  if mode == PHOTO:
    return eval_sets.load_eval_photos(config, max_side=photo_max_side)
  views, masks_per_view = CROP_VIEWS['large' if mode >= _LARGE else 'small']
  return eval_sets.load_eval_data(
      config, num_masks_per_image=num_masks_per_image or masks_per_view,
      image_size=mode, views=views)


def _metrics(output, image, mask, batched):
  if batched:
    return metrics.image_metrics(output, image, mask)
  per = [metrics.image_metrics(o[None], x[None], m[None])
         for o, x, m in zip(output, image, mask)]
  return {k: np.concatenate([p[k] for p in per]) for k in per[0]}


def _groups(per_image) -> Dict[str, np.ndarray]:
  groups = {'all': np.arange(len(per_image['psnr']))}
  groups.update(metrics.bucket_indices(per_image['hole_ratio']))
  return groups


def _summaries(per_image, patches, truth_patches) -> Dict[str, Dict]:
  groups = _groups(per_image)
  out = {}
  for name, idx in groups.items():
    out[name] = metrics.summarize({k: v[idx] for k, v in per_image.items()})
    out[name].update(metrics.swd(patches, truth_patches, images=idx))
  return out


def run_mode(params, config, mode, *, baselines: Sequence[str] = (),
             num_masks_per_image=None, num_samples: int = 8,
             diversity_images: int = 48, seed: int = 0,
             photo_max_side: int = 1024, scorers=None) -> Dict:
  """Scores `params` (and `baselines`) in one mode (crop size or 'photo').

  Photos longer than `photo_max_side` are downscaled to it.  With
  `scorers` (`network_metrics.load`; eval.py always passes them), each summary
  also holds LPIPS, and FID, KID and P-IDS / U-IDS if their weights were
  loaded.

  Returns:
    {'mode', 'num_images', 'names', 'results': {method: {'all' | bucket:
    summary}}, 'per_image': {method: {metric: [N]}}, 'diversity': {...},
    'seconds_per_image': {method: s}, 'outputs': {method: images},
    'image', 'mask'}; images are float [N, S, S, 3] arrays for crops, lists
    of [H_i, W_i, 3] for photos.
  """
  data = _data(config, mode, num_masks_per_image, photo_max_side)
  image, mask = data['image'], data['mask']
  batched = mode != PHOTO
  outputs, seconds = common.fill_all(params, image, mask, baselines=baselines,
                                     batched=batched)
  truth_patches = metrics.hole_patches(image, mask)
  per_image, results = {}, {}
  for m, o in outputs.items():
    per_image[m] = _metrics(o, image, mask, batched)
    results[m] = _summaries(per_image[m], metrics.hole_patches(o, mask),
                            truth_patches)
  if scorers is not None:
    # Photos: LPIPS on the region around each hole (network_metrics.hole_box).
    common.add_scores(results, network_metrics.score(
        scorers, outputs, image, _groups(per_image[DEFAULT]),
        masks=None if batched else mask))
  n = len(data['name'])
  result = {
      'mode': mode_tag(mode), 'num_images': n, 'names': data['name'],
      'results': results, 'per_image': per_image, 'outputs': outputs,
      'seconds_per_image': {m: s / max(n, 1) for m, s in seconds.items()},
      'image': image, 'mask': mask,
  }
  if num_samples and num_samples > 1 and batched:
    k = min(diversity_images, n)
    samples = api.inpaint(params, image[:k], mask[:k] > 0.5,
                                num_samples=num_samples,
                                rng=jax.random.PRNGKey(seed))
    div = metrics.diversity(samples, image[:k], mask[:k])
    result['diversity'] = {
        'num_samples': num_samples, 'num_images': k,
        'pairwise_hole_l1': float(np.mean(div['pairwise_hole_l1'])),
        'best_of_k_psnr': float(np.mean(div['best_psnr'])),
        'default_psnr': float(np.mean(per_image[DEFAULT]['psnr'][:k])),
    }
    result['samples'] = samples
  return result


# (summary key, header, format) of the published tables' metrics.
_EXTRA_COLUMNS = (('fid', 'FID', '.2f'), ('kid', 'KID', '.4f'),
                  ('lpips', 'LPIPS', '.4f'), ('p_ids', 'P-IDS', '.3f'),
                  ('u_ids', 'U-IDS', '.3f'))


def format_table(result) -> str:
  """Plain-text table of one mode: one row per method and bucket."""
  extra = [c for c in _EXTRA_COLUMNS
           if any(c[0] in s for summaries in result['results'].values()
                  for s in summaries.values())]
  rows = [('method', 'holes', 'n', 'PSNR dB', 'SSIM', 'hole L1', 'detail',
           'SWD') + tuple(c[1] for c in extra) + ('s/img',)]
  for method, summaries in result['results'].items():
    for bucket, s in summaries.items():
      if not s['n']:
        continue
      rows.append((method, bucket, str(s['n']), f"{s['psnr']:.2f}",
                   f"{s['ssim']:.4f}", f"{s['hole_l1']:.4f}",
                   f"{s.get('detail_ratio', float('nan')):.3f}",
                   f"{s['swd']:.1f}")
                  + tuple(format(s.get(k, float('nan')), f) for k, _, f in extra)
                  + (f"{result['seconds_per_image'][method]:.3f}",))
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
  lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
           for r in rows]
  if 'diversity' in result:
    d = result['diversity']
    lines.append(
        f"diversity ({d['num_samples']} samples x {d['num_images']} images): "
        f"pairwise hole L1 {d['pairwise_hole_l1']:.4f}, best-of-k PSNR "
        f"{d['best_of_k_psnr']:.2f} dB (default output {d['default_psnr']:.2f})")
  return '\n'.join(lines)


def _sees_enough(tag: str) -> bool:
  """LPIPS' AlexNet sees too little of a crop below 128 px to rank fills."""
  return tag == PHOTO or (tag[:-2].isdigit() and int(tag[:-2]) >= _LARGE)


def check_targets(result):
  """The quality targets, per bucket, for the rows present in one mode.

  Default output (DEFAULT): SWD below every classical row's (shift-map
  and PatchMatch included); LPIPS below every classical row's, for photos
  and crops of 128 px or more; detail ratio in [0.85, 1.15]; PSNR >= biharmonic - 2.5 dB (a
  perfect posterior sample pays 3 dB against the MMSE estimate, which the
  fidelity target puts at biharmonic + 0.5).  Fidelity output (FIDELITY):
  PSNR >= biharmonic + 0.5 dB, SSIM >= biharmonic's.  Diversity (bucket
  'all'): mean pairwise hole L1 of the samples >= 0.02.  The oracle stays a
  reference row without a target.

  Returns:
    list of (bucket, target, value, bound, met) with value and bound as
    floats; targets whose reference row is missing are left out.
  """
  res = result['results']
  classical = [m for m in res if m not in (DEFAULT, FIDELITY, 'oracle')]
  checks = []

  def add(bucket, name, value, bound, met):
    checks.append((bucket, name, float(value), float(bound), bool(met)))
  for bucket, ours in res.get(DEFAULT, {}).items():
    if not ours['n']:
      continue
    if classical:
      best = min(res[m][bucket]['swd'] for m in classical)
      add(bucket, 'default SWD < every classical row', ours['swd'], best,
          ours['swd'] < best)
      lpips_rows = [m for m in classical if 'lpips' in res[m][bucket]]
      if ('lpips' in ours and lpips_rows
          and _sees_enough(result.get('mode', ''))):
        best = min(res[m][bucket]['lpips'] for m in lpips_rows)
        add(bucket, 'default LPIPS < every classical row', ours['lpips'],
            best, ours['lpips'] < best)
    add(bucket, 'default detail in [0.85, 1.15]', ours['detail_ratio'], 1.0,
        0.85 <= ours['detail_ratio'] <= 1.15)
    if 'biharmonic' in res:
      bih = res['biharmonic'][bucket]
      add(bucket, 'default PSNR >= biharmonic - 2.5', ours['psnr'],
          bih['psnr'] - 2.5, ours['psnr'] >= bih['psnr'] - 2.5)
      if FIDELITY in res:
        fid = res[FIDELITY][bucket]
        add(bucket, 'fidelity PSNR >= biharmonic + 0.5', fid['psnr'],
            bih['psnr'] + 0.5, fid['psnr'] >= bih['psnr'] + 0.5)
        add(bucket, 'fidelity SSIM >= biharmonic', fid['ssim'], bih['ssim'],
            fid['ssim'] >= bih['ssim'])
  if 'diversity' in result and res.get(DEFAULT):
    value = result['diversity']['pairwise_hole_l1']
    add('all', 'diversity (hole L1) >= 0.02', value, 0.02, value >= 0.02)
  return checks


def format_targets(result) -> str:
  """One line per target: how many buckets meet it, worst value vs bound."""
  by_target = {}
  for bucket, name, value, bound, met in check_targets(result):
    by_target.setdefault(name, []).append((bucket, value, bound, met))
  lines = []
  for name, rows in by_target.items():
    met = sum(r[3] for r in rows)
    detail = ', '.join(f'{b} {v:.4g} vs {t:.4g}' for b, v, t, _ in rows)
    lines.append(f"target {name}: {met}/{len(rows)} buckets ({detail})")
  return '\n'.join(lines)


def to_json(result) -> Dict:
  """The JSON-serialisable part of one mode's result."""
  per_image = {
      m: {name: {k: float(v[i]) for k, v in p.items()}
          for i, name in enumerate(result['names'])}
      for m, p in result['per_image'].items()}
  keys = ('mode', 'num_images', 'results', 'seconds_per_image', 'diversity')
  targets = [dict(zip(('bucket', 'target', 'value', 'bound', 'met'), t))
             for t in check_targets(result)]
  return dict({k: result[k] for k in keys if k in result},
              per_image=per_image, targets=targets)


def grid_rows(result, max_rows: int = 12, window: int = 320):
  """Columns masked | each method | truth for a PNG grid of one mode.

  Crops: up to `max_rows` examples spread over the hole ratios.  Photos: a
  window of at most `window` px around each hole, at full resolution.
  """
  order = np.argsort(result['per_image'][DEFAULT]['hole_ratio'])
  rows = order[np.linspace(0, len(order) - 1,
                           min(max_rows, len(order))).astype(int)]
  sources = ([result['image']] + list(result['outputs'].values())
             + [result['image']])
  if result['mode'] != PHOTO:
    mask = result['mask'][rows]
    columns = [src[rows] for src in sources]
    columns[0] = columns[0] * (1 - mask) + mask
    return columns
  columns = [[] for _ in sources]
  for i in rows[:6]:
    hole = result['mask'][i][..., 0] > 0.5
    h, w = hole.shape
    size = min(window, h, w)
    ys, xs = np.nonzero(hole)
    y0 = int(np.clip((ys.min() + ys.max()) // 2 - size // 2, 0, h - size))
    x0 = int(np.clip((xs.min() + xs.max()) // 2 - size // 2, 0, w - size))
    box = (slice(y0, y0 + size), slice(x0, x0 + size))
    for col, src in zip(columns, sources):
      crop = np.zeros((window, window, 3), np.float32) + 1.0
      crop[:size, :size] = src[i][box]
      col.append(crop)
    m = np.zeros((window, window, 1), np.float32)
    m[:size, :size] = hole[box][..., None]
    columns[0][-1] = columns[0][-1] * (1 - m) + m
  return [np.stack(c) for c in columns]


class HeldOut(common.Evaluator):
  """One held-out mode (a crop size or 'photo') as an evaluator."""

  def __init__(self, config, mode, *, num_masks_per_image=None,
               num_samples: int = 8, photo_max_side: int = 1024,
               file_suffix: str = ''):
    self.config, self.mode = config, mode
    self.tag = mode_tag(mode)
    self.options = dict(num_masks_per_image=num_masks_per_image,
                        num_samples=num_samples,
                        photo_max_side=photo_max_side)
    self.file_suffix = file_suffix

  @classmethod
  def from_options(cls, config, mode, **options):
    known = ('num_masks_per_image', 'num_samples', 'photo_max_side',
             'file_suffix')
    return cls(config, mode, **{k: v for k, v in options.items()
                                if k in known})

  def run(self, params, *, scorers=None, baselines: Sequence[str] = ()):
    result = run_mode(params, self.config, self.mode, baselines=baselines,
                      scorers=scorers, **self.options)
    result['step'] = params.step
    return result

  def report(self, result) -> str:
    return '\n'.join([
        f"{result['mode']}: {result['num_images']} images "
        f"(step {result['step']})", format_table(result),
        format_targets(result),
        f"grid columns: masked | {' | '.join(result['outputs'])} | truth"])

  def write(self, result, out_dir) -> List[str]:
    name = f'eval_{self.tag}{self.file_suffix}'
    json_path, grid_path = out_dir / f'{name}.json', out_dir / f'{name}.png'
    json_path.write_text(json.dumps(dict(to_json(result),
                                         step=result['step']), indent=2))
    image_io.save_png(grid_path, image_io.make_grid(grid_rows(result)))
    return [str(json_path), str(grid_path)]

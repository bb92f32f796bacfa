"""Every benchmark runs in its --smoke mode and writes the JSON it promises."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import xla_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (script, extra flags, keys the results must hold)
CASES = [
    ('train_step', ['--profile'],
     ['median_step_s', 'median_fraction', 'd_gflop', 'g_gflop',
      'images_per_s', 'profile']),
    ('train_step', ['--baseline', 'vaegan_jax/training/train_lib.py'],
     ['median_ratios', 'identical_first_step', 'variants']),
    ('input_pipeline', [], ['sizes']),
    ('masks', [], ['median', 'rates']),
    ('inpaint', [], ['sizes', 'sweep']),
    ('whole_photo', [], ['photos', 'median_warm_over_biharmonic',
                         'median_warm_over_patchmatch', 'cold_cli_s',
                         'large_outcome', 'large_warm_s',
                         'large_peak_gib', 'large_warm_peak_gib', 'peak_gib']),
    ('folder', [], ['same']),
    ('eval_during_training', [], ['step_s', 'eval_warm_s', 'overhead']),
    ('serve_12mp', [], ['open_s', 'paint_ms_per_segment_median',
                        'mask_to_png_ms', 'page_fill_s', 'inpaint_s']),
]


@pytest.mark.heavy
@pytest.mark.parametrize('name,flags,keys', CASES,
                         ids=[c[0] + ('_baseline' if c[1][:1] == ['--baseline']
                                      else '') for c in CASES])
def test_smoke(name, flags, keys, tmp_path):
  out = tmp_path / f'{name}.json'
  env = dict(os.environ)
  # One device: the benchmarks time single-device steps.
  env['XLA_FLAGS'] = xla_flags(1)
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', f'{name}.py'),
       '--smoke', '--json', str(out), *flags],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert '|' in proc.stdout  # the table
  payload = json.loads(out.read_text())
  assert payload['benchmark'] == name and payload['smoke']
  for key in keys:
    assert key in payload['results'], (key, sorted(payload['results']))
  if name == 'train_step' and '--baseline' in flags:
    r = payload['results']
    assert r['identical_first_step']  # the same train_lib.py twice
    assert set(r['variants']) == {'baseline', 'current'}
  elif name == 'train_step':
    r = payload['results']
    assert r['median_step_s'] > 0 and r['d_gflop'] > 0 and r['g_gflop'] > 0
    assert 0 < r['median_fraction'] < 10
    assert r['profile']['G']['top']
  if name == 'folder':  # one process fills as one command per photo
    same = payload['results']['same']
    assert same['same_outputs'] and same['photos'] == 1
    assert same['folder_s'] > 0 and same['single_calls_s'] > 0
  if name == 'eval_during_training':
    assert payload['results']['overhead'] > 0
  if name == 'serve_12mp':  # the page's fill is the library's
    assert payload['results']['page_equals_inpaint']
  if name == 'input_pipeline':
    for r in payload['results']['sizes'].values():
      assert r['median_pipeline'] > 0 and r['median_step'] > 0
  if name == 'masks':
    for rates in payload['results']['median'].values():
      assert all(v > 0 for v in rates.values())
  if name == 'inpaint':
    for r in payload['results']['sizes'].values():
      # The model, and the seams' push-pull and relaxation for a new
      # padded size.
      assert r['compiles'] <= 3 and r['median_warm_s'] > 0
    assert payload['results']['sizes']['40x52']['bucket_over_multiple']
    sweep = payload['results']['sweep']
    assert sweep['compiles'] <= len(sweep['padded_shapes'])


@pytest.mark.heavy
def test_texture_cost_oracle(tmp_path):
  out = tmp_path / 'texture_cost.json'
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', 'texture_cost.py'),
       '--masks_per_image', '1', '--sigmas', '2', '--json', str(out)],
      cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
      timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  r = {name: rows['all'] for name, rows in json.loads(out.read_text()).items()}
  # The oracle texture restores the truth's detail and costs PSNR and SSIM.
  assert r['biharmonic']['detail_ratio'] < 0.2
  # The sigma=2 band holds most, not all, of the held-out photos' gradient
  # energy (0.78 measured here; coarser texture lies below the band).
  assert 0.6 < r['biharmonic + texture(s=2)']['detail_ratio'] < 1.2
  for metric in ('psnr', 'ssim'):
    assert (r['biharmonic + texture(s=2)'][metric]
            < r['biharmonic'][metric])
  assert r['lowpass(s=2)']['psnr'] > r['biharmonic']['psnr'] + 2


@pytest.mark.heavy
def test_copy_settings_scores_each_setting():
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', 'copy_settings.py'),
       '--num_images', '8', '--settings', '2,0,linear', '8,4,energy,0.5'],
      cwd=ROOT, env=dict(os.environ, XLA_FLAGS=xla_flags(1)),
      capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows = [line for line in proc.stdout.splitlines() if ' all ' in line]
  assert len(rows) == 5 and 'energy' in rows[-1], proc.stdout
  assert all(float(r.split('SWD')[1]) > 0 for r in rows), proc.stdout


@pytest.mark.heavy
def test_patch_engine_scores_rows_and_caches_the_anchors(tmp_path):
  cmd = [sys.executable, os.path.join(ROOT, 'benchmarks', 'patch_engine.py'),
         '--photos', '0', '--crops', '1', '--anchors', 'pm3',
         '--cache', str(tmp_path), '--rows', 'bare=@none,guide_weight=0']
  env = dict(os.environ, XLA_FLAGS=xla_flags(1))
  proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows = {l.split()[0]: l.split() for l in proc.stdout.splitlines()
          if l.endswith(tuple('0123456789')) and '256px' in l}
  assert set(rows) == {'pm3', 'bare'}, proc.stdout
  for cols in rows.values():  # LPIPS, SWD > 0 on a real fill
    assert 0 < float(cols[2]) < 1 and float(cols[3]) > 0, cols
  assert len(list(tmp_path.glob('train_256px_pm3_1_*.npz'))) == 1
  bad = subprocess.run(cmd[:-1] + ['x=no_such=1'], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
  assert bad.returncode != 0 and 'unknown setting' in bad.stderr + bad.stdout

"""Eval modes and the quality-target checks (end to end: training/test_main)."""
import os

import pytest

from vaegan_jax.evaluation import common
from vaegan_jax.evaluation import held_out
from vaegan_jax.inference import api


def test_parse_modes():
  assert held_out.parse_modes('', 64) == [64, 256, 'photo']
  assert held_out.parse_modes('', 256) == [256, 'photo']
  assert held_out.parse_modes('128, photo', 64) == [128, 'photo']
  for bad in ('photos', '4', '64px'):
    with pytest.raises(ValueError, match='modes'):
      held_out.parse_modes(bad, 64)


def _row(psnr, ssim, swd, detail):
  return {'all': {'n': 10, 'psnr': psnr, 'ssim': ssim, 'swd': swd,
                  'detail_ratio': detail},
          '40-60%': {'n': 0}}


def test_check_targets():
  result = {'results': {
      'default': _row(28.0, 0.80, 100.0, 0.9),
      'fidelity': _row(31.0, 0.86, 300.0, 0.2),
      'biharmonic': _row(30.0, 0.85, 400.0, 0.05),
      'shiftmap': _row(27.0, 0.80, 110.0, 1.0),
      'oracle': _row(28.0, 0.82, 90.0, 0.8)},
            'diversity': {'pairwise_hole_l1': 0.03}}
  got = {name: (met, value, bound)
         for _, name, value, bound, met in held_out.check_targets(result)}
  # The bound is shift-map's 110, not the oracle's 90: a reference row only.
  assert got['default SWD < every classical row'] == (True, 100.0, 110.0)
  assert got['default PSNR >= biharmonic - 2.5'] == (True, 28.0, 27.5)
  assert got['default detail in [0.85, 1.15]'][0]
  assert got['fidelity PSNR >= biharmonic + 0.5'] == (True, 31.0, 30.5)
  assert got['fidelity SSIM >= biharmonic'][0]
  assert got['diversity (hole L1) >= 0.02'] == (True, 0.03, 0.02)
  # A blurry default output fails the realism targets, not the others.
  result['results']['default'] = _row(30.5, 0.86, 380.0, 0.1)
  failed = {name for _, name, _, _, met in held_out.check_targets(result)
            if not met}
  assert failed == {'default SWD < every classical row',
                    'default detail in [0.85, 1.15]'}
  # Texture at any cost fails the distortion target.
  result['results']['default'] = _row(27.0, 0.80, 90.0, 1.0)
  result['diversity']['pairwise_hole_l1'] = 0.01
  failed = {name for _, name, _, _, met in held_out.check_targets(result)
            if not met}
  assert failed == {'default PSNR >= biharmonic - 2.5',
                    'diversity (hole L1) >= 0.02'}
  result['results']['default'] = _row(30.5, 0.86, 380.0, 0.1)
  assert '0/1 buckets' in held_out.format_targets(result)


def test_lpips_target_on_large_crops_and_photos_only():
  rows = {'default': _row(28.0, 0.80, 100.0, 0.9),
          'patchmatch': _row(27.0, 0.80, 110.0, 1.0),
          'biharmonic': _row(30.0, 0.85, 400.0, 0.05)}
  for name, lp in (('default', 0.12), ('patchmatch', 0.10),
                   ('biharmonic', 0.20)):
    rows[name]['all']['lpips'] = lp
  name = 'default LPIPS < every classical row'
  for mode, checked in (('photo', True), ('256px', True), ('64px', False)):
    got = {t: (met, value, bound) for _, t, value, bound, met
           in held_out.check_targets({'mode': mode, 'results': rows})}
    assert (name in got) == checked, mode
    if checked:  # PatchMatch's 0.10 is the bound
      assert got[name] == (False, 0.12, 0.10)
  rows['default']['all']['lpips'] = 0.09
  got = {t: met for _, t, _, _, met
         in held_out.check_targets({'mode': 'photo', 'results': rows})}
  assert got[name]


def test_a_shipped_models_results_stay_out_of_the_package():
  shipped = api.shipped_model('pretrained/vaegan64')
  assert common.output_dir('pretrained/vaegan64', shipped) == os.path.join(
      'eval', 'vaegan64')
  assert common.output_dir('workdirs/run', None) == os.path.join(
      'workdirs/run', 'eval')

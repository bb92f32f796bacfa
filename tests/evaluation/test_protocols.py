"""protocols: LaMa's and NVIDIA's mask sets, and a dry run on mock TFDS."""
import json
import os

from etils import epath
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.fixtures import random_weights
from vaegan_jax.data import masks
from vaegan_jax.evaluation import inception
from vaegan_jax.evaluation import lpips
from vaegan_jax.evaluation import network_metrics
from vaegan_jax.evaluation import protocols
from vaegan_jax.evaluation import torch_weights
from vaegan_jax.inference import api
from vaegan_jax.run import config_file


@pytest.mark.heavy
def test_lama_sets_are_fixed_and_follow_the_kinds():
  a = protocols.mask_sets('lama', 12, 64)
  b = protocols.mask_sets('lama', 12, 64)
  assert list(a) == list(protocols.LAMA_KINDS)
  ratio = {}
  for kind in a:
    np.testing.assert_array_equal(a[kind]['mask'], b[kind]['mask'])
    r = masks.hole_ratio(a[kind]['mask'])
    assert np.all(r > 0) and np.all(r <= 0.5)  # LaMa drops masks over 50%
    ratio[kind] = r.mean()
  assert ratio['thin'] < ratio['medium'] < ratio['thick']


@pytest.mark.heavy
def test_nvidia_buckets_hold_their_ratios():
  sets = protocols.mask_sets('nvidia', 12, 64)
  assert list(sets) == ['1-10%', '10-20%', '20-30%', '30-40%', '40-50%',
                        '50-60%']
  seen = []
  for (lo, hi), s in zip(protocols.NVIDIA_BUCKETS, sets.values()):
    r = masks.hole_ratio(s['mask'])
    assert np.all(r >= lo) and np.all(r <= hi), (lo, hi, r)
    seen += list(s['index'])
  assert sorted(seen) == list(range(12))  # each image once
  with pytest.raises(ValueError, match='protocol'):
    protocols.mask_sets('places', 4, 64)


@pytest.mark.heavy
def test_lama_protocol_dry_run_on_mock_places(tmp_path):
  fid, lp = str(tmp_path / 'fid.npz'), str(tmp_path / 'lpips.npz')
  torch_weights.save_npz(fid, random_weights.state(
      0, inception.param_shapes()))
  torch_weights.save_npz(lp, random_weights.state(
      0, lpips.param_shapes('alex')))
  params = api.load_params('pretrained/vaegan64')
  config = config_file.read('pretrained/vaegan64')
  config.data.source, config.data.tfds_name = 'tfds', 'places365_small'
  config.data.tfds_download = True  # mocked: "prepares" without internet
  config.data.tfds_eval_split = ''  # as eval.py --tfds_name sets it
  evaluator = protocols.Protocol(config, 'lama', num_images=4, image_size=64)
  with tfds.testing.mock_data(num_examples=6):
    result = evaluator.run(params, scorers=network_metrics.load(fid, lp),
                           baselines=('biharmonic',))
  assert result['num_images'] == 4 and result['step'] == params.step
  written = evaluator.write(result, epath.Path(tmp_path))
  out = tmp_path / evaluator.tag
  assert str(out / 'results.json') in written
  assert protocols.format_table(result) in evaluator.report(result)
  table = protocols.format_table(result)
  header = table.splitlines()[0]
  for kind in protocols.LAMA_KINDS:
    assert f'{kind} FID' in header and f'{kind} LPIPS' in header
    for method in ('default', 'biharmonic'):
      row = result['sets'][kind][method]
      assert row['n'] == 4 and np.isfinite(row['fid']) and row['lpips'] > 0
  with open(out / 'manifest.json') as f:
    manifest = json.load(f)
  # places365_small's evaluation split is 'validation'; the mock may have
  # only 'test'.
  assert manifest['images'] in ([f'validation[{i}]' for i in range(4)],
                                [f'test[{i}]' for i in range(4)])
  files = manifest['sets']['thick']['masks']
  assert len(files) == 4 and all(os.path.isfile(out / p) for p in files)

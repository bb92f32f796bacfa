"""vaegan-inpaint photos/ masks/ -o out/: pairing, bad files, resume, no
overwrite, and the same result as one file at a time."""
import os

import numpy as np
from PIL import Image
import pytest

from vaegan_jax.inference import cli
from vaegan_jax.inference import folder


def _photo(path, size=(40, 48), seed=0):
  rng = np.random.default_rng(seed)
  image = np.clip(rng.normal(128, 40, size + (3,)), 0, 255).astype(np.uint8)
  Image.fromarray(image).save(path)
  return image


def _mask(path, size=(40, 48), box=(12, 24, 16, 30)):
  mask = np.zeros(size, np.uint8)
  mask[box[0]:box[1], box[2]:box[3]] = 255
  Image.fromarray(mask).save(path)
  return mask > 0


def _tree(tmp_path):
  photos, masks = tmp_path / 'photos', tmp_path / 'masks'
  photos.mkdir()
  masks.mkdir()
  for i, name in enumerate(('a.jpg', 'b.png', 'c.PNG')):
    _photo(photos / name, seed=i)
  (photos / 'notes.txt').write_text('not a photo, not listed')
  for name in ('a.png', 'b.png', 'c.png', 'x.png'):
    _mask(masks / name)
  return photos, masks


def test_photos_pair_with_masks_by_stem(tmp_path):
  photos, masks = _tree(tmp_path)
  _photo(photos / 'd.png')          # no mask of that name
  _photo(photos / 'a.png')          # a second photo named 'a'
  items, notes = folder.pair(str(photos), str(masks), str(tmp_path / 'out'))
  assert [(it.stem, os.path.basename(it.image),
           it.mask and os.path.basename(it.mask)) for it in items] == [
               ('a', 'a.jpg', 'a.png'), ('b', 'b.png', 'b.png'),
               ('c', 'c.PNG', 'c.png'), ('d', 'd.png', None)]
  assert items[0].output == str(tmp_path / 'out' / 'a.png')
  assert any('a.png' in n and "also named 'a'" in n for n in notes), notes
  assert any('x.png' in n and 'no photo' in n for n in notes), notes
  # One mask file serves every photo.
  items, _ = folder.pair(str(photos), str(masks / 'x.png'), 'out')
  assert {it.mask for it in items} == {str(masks / 'x.png')}
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(ValueError, match='no images'):
    folder.pair(str(empty), str(masks), 'out')


def _fake_run(items, calls, overwrite=False, fail_on=()):
  """folder.run with a fast stand-in for the model: the hole set to 0."""
  lines, errors = [], []

  def read(item):
    if os.path.basename(item.image) in fail_on:
      raise ValueError('cannot read it')
    image = np.asarray(Image.open(item.image).convert('RGB'))
    return image, np.asarray(Image.open(item.mask)) > 0

  def fill(image, hole):
    calls.append(image.shape)
    return np.where(hole[..., None], 0, image).astype(np.uint8)

  summary = folder.run(items, fill, read=read,
                       save=lambda p, a: Image.fromarray(a).save(p),
                       overwrite=overwrite, report=lines.append,
                       error=errors.append)
  return summary, lines, errors


def _paired(tmp_path):
  """(output folder, items) of `_tree`'s photos."""
  photos, masks = _tree(tmp_path)
  out = tmp_path / 'out'
  out.mkdir()
  return out, folder.pair(str(photos), str(masks), str(out))[0]


def test_a_bad_photo_is_reported_and_the_run_goes_on(tmp_path):
  out, items = _paired(tmp_path)
  calls = []
  summary, lines, errors = _fake_run(items, calls, fail_on=('b.png',))
  assert (summary.written, summary.skipped, summary.failed) == (2, 0, 1)
  assert len(errors) == 1 and 'b.png: cannot read it' in errors[0]
  assert sorted(os.listdir(out)) == ['a.png', 'c.png']  # no partial files
  assert 'ETA' in lines[-1] and '3/3' in lines[-1] and '[#' in lines[-1]


def test_rerun_skips_what_is_done_and_overwrite_redoes_it(tmp_path):
  out, items = _paired(tmp_path)
  calls = []

  # A run stopped after the first photo (Ctrl-C while the second is filled).
  def stop_second(image, hole):
    if calls:
      raise KeyboardInterrupt
    calls.append(image.shape)
    return image

  with pytest.raises(KeyboardInterrupt):
    folder.run(items, stop_second,
               read=lambda it: (np.asarray(Image.open(it.image).convert(
                   'RGB')), np.asarray(Image.open(it.mask)) > 0),
               save=lambda p, a: Image.fromarray(a).save(p),
               report=lambda _: None)
  assert os.listdir(out) == ['a.png']
  first = (out / 'a.png').read_bytes()
  calls = []
  summary, lines, _ = _fake_run(items, calls)
  assert (summary.written, summary.skipped) == (2, 1) and len(calls) == 2
  assert 'already done' in lines[0]
  assert (out / 'a.png').read_bytes() == first       # not overwritten
  calls = []
  summary, _, _ = _fake_run(items, calls, overwrite=True)
  assert (summary.written, summary.skipped) == (3, 0) and len(calls) == 3
  assert (out / 'a.png').read_bytes() != first       # redone


@pytest.mark.heavy
def test_the_command_fills_a_folder_like_single_calls(tmp_path, capsys):
  photos, masks = _tree(tmp_path)
  (photos / 'broken.png').write_bytes(b'not a png')
  _mask(masks / 'broken.png')
  _photo(photos / 'small.png', size=(30, 30))   # its mask is 40 x 48
  _mask(masks / 'small.png')
  out = tmp_path / 'out'
  status = cli.main([str(photos), str(masks), '-o', str(out)])
  stdout, err = capsys.readouterr()
  assert status == 1
  assert sorted(os.listdir(out)) == ['a.png', 'b.png', 'c.png']
  assert 'broken.png' in err and 'small.png' in err and '30x30' in err
  assert "x.png: no photo named 'x'" in err
  assert '2 of 5 photos failed' in err.splitlines()[-1]
  assert 'done: 3 written, 0 skipped' in stdout
  # The same fill as the one-file command (one path through inference).
  single = tmp_path / 'b_single.png'
  assert cli.main([str(photos / 'b.png'), str(masks / 'b.png'), '-o',
                   str(single)]) == 0
  np.testing.assert_array_equal(np.asarray(Image.open(out / 'b.png')),
                                np.asarray(Image.open(single)))
  # A re-run does only what failed; --overwrite on one file is refused.
  os.remove(photos / 'broken.png')
  os.remove(photos / 'small.png')
  capsys.readouterr()
  assert cli.main([str(photos), str(masks), '-o', str(out)]) == 0
  stdout, _ = capsys.readouterr()
  assert '3 of 3 already done' in stdout and 'done: 0 written' in stdout
  with pytest.raises(SystemExit):
    cli.main([str(photos / 'b.png'), str(masks / 'b.png'), '-o',
              str(single), '--overwrite'])
  # --num_samples as for one file: the samples side by side.
  os.remove(photos / 'a.jpg')
  os.remove(photos / 'c.PNG')
  assert cli.main([str(photos), str(masks), '-o', str(tmp_path / 'k'),
                   '--num_samples', '2', '--seed', '3']) == 0
  tiled = np.asarray(Image.open(tmp_path / 'k' / 'b.png'))
  assert tiled.shape == (40, 96, 3)
  assert not np.array_equal(tiled[:, :48], tiled[:, 48:])

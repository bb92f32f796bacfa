"""A folder of photos in one process: `vaegan-inpaint photos/ masks/ -o out/`.

Photos and masks pair by file stem (photos/cat.jpg with masks/cat.png), or
one mask file serves every photo.  Each result is written as out/<stem>.png
(the samples side by side with --num_samples) through a temporary file, so
a crash never leaves a half-written result.  A result that exists already
is skipped unless `overwrite`: re-running after a stop does only the rest.
A photo or mask that cannot be used is reported on its own line and
skipped; the run goes on and the caller exits non-zero with the count.
One process keeps the compiled model and patch search for every photo, so
only the first photo of each size bucket compiles.
"""
import dataclasses
import os
import time
from typing import Callable, List, Optional, Tuple

import numpy as np

# Extensions read as photos and masks (what PIL opens; case-insensitive).
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif',
                    '.tiff')


@dataclasses.dataclass(frozen=True)
class Item:
  """One photo to fill: its stem, its files and where the result goes."""
  stem: str
  image: str
  mask: Optional[str]   # None: no mask of that stem (an error, reported)
  output: str


def _images(folder: str) -> List[str]:
  return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                if f.lower().endswith(IMAGE_EXTENSIONS)
                and not f.startswith('.')
                and os.path.isfile(os.path.join(folder, f)))


def _stem(path: str) -> str:
  return os.path.splitext(os.path.basename(path))[0]


def pair(photos: str, masks: str, output: str) -> Tuple[List[Item],
                                                         List[str]]:
  """The photos of the folder `photos` with their masks.

  Args:
    photos: a folder of images (not searched recursively).
    masks: a folder of masks with the photos' stems, or one mask file.
    output: the folder the results go to (out/<stem>.png).
  Returns:
    (items in file-name order, notes): notes name masks that match no
    photo and stems that two photos share (the first one is kept).
  Raises:
    ValueError: no images in `photos`.
  """
  images = _images(photos)
  if not images:
    raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in folder '
                     f'{photos}')
  by_stem, notes = {}, []
  if os.path.isdir(masks):
    for path in _images(masks):
      if _stem(path) in by_stem:
        notes.append(f'{path}: a second mask for {_stem(path)!r}; using '
                     f'{by_stem[_stem(path)]}')
      else:
        by_stem[_stem(path)] = path
  items, seen = [], set()
  for path in images:
    stem = _stem(path)
    if stem in seen:
      notes.append(f'{path}: another photo is also named {stem!r}; only the '
                   'first is filled (its result would overwrite)')
      continue
    seen.add(stem)
    mask = by_stem.get(stem) if os.path.isdir(masks) else masks
    items.append(Item(stem, path, mask, os.path.join(output, stem + '.png')))
  for stem in sorted(set(by_stem) - seen):
    notes.append(f'{by_stem[stem]}: no photo named {stem!r}; not used')
  return items, notes


def _clock(seconds: float) -> str:
  seconds = int(round(seconds))
  return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


def _bar(done: int, total: int, width: int = 20) -> str:
  full = done * width // max(total, 1)
  return '[' + '#' * full + '.' * (width - full) + ']'


@dataclasses.dataclass
class Summary:
  """What a folder run did: photos written, skipped (done before), failed."""
  written: int = 0
  skipped: int = 0
  failed: int = 0


def run(items: List[Item], fill: Callable[[np.ndarray, np.ndarray],
                                          np.ndarray], *,
        read: Callable[[Item], Tuple[np.ndarray, np.ndarray]],
        save: Callable[[str, np.ndarray], None], overwrite: bool = False,
        report: Callable[[str], None] = print,
        error: Callable[[str], None] = print) -> Summary:
  """Fills every item in turn; one bad item never stops the run.

  Args:
    items: from `pair`.
    fill: (image uint8 [H, W, 3], hole bool [H, W]) -> uint8 result.
    read: item -> (image, hole); raises ValueError or OSError with a
      message for a photo or mask that cannot be used.
    save: (path, uint8 image) -> None, the format from the extension.
    overwrite: replace results that exist (else they are skipped).
    report: progress lines; error: one line per failed item.
  Returns:
    the counts.
  """
  summary = Summary()
  todo = [it for it in items if overwrite or not os.path.exists(it.output)]
  summary.skipped = len(items) - len(todo)
  if summary.skipped:
    report(f'{summary.skipped} of {len(items)} already done in '
           f'{os.path.dirname(items[0].output)} (--overwrite redoes them)')
  start, times = time.perf_counter(), []
  for i, item in enumerate(todo):
    t = time.perf_counter()
    try:
      if item.mask is None:
        raise ValueError('no mask with this name')
      image, hole = read(item)
      out = fill(image, hole)
      _save_whole(save, item.output, out)
    except (ValueError, OSError, MemoryError) as e:
      summary.failed += 1
      error(f'{item.image}: {e}')
      continue
    summary.written += 1
    times.append(time.perf_counter() - t)
    # The ETA from the median photo so far: the first one compiles.
    left = (len(todo) - i - 1) * float(np.median(times))
    report(f'{_bar(i + 1, len(todo))} {i + 1}/{len(todo)}  ETA '
           f'{_clock(left)}  (elapsed {_clock(time.perf_counter() - start)})'
           f'  {item.output}  {times[-1]:.1f} s')
  return summary


def _save_whole(save, path: str, image: np.ndarray) -> None:
  """Writes through a temporary file in the same folder, then renames:
  a result either exists whole or not at all."""
  root, ext = os.path.splitext(path)
  tmp = f'{root}.partial{ext}'
  try:
    save(tmp, image)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)

"""A workdir's config.json: the full training config, which describes the
architecture, with a format version; read back in today's layout
(run/config_upgrade.py).

A workdir may be a local path or a remote one such as gs://bucket/run
(through etils.epath).
"""
import json
import os

from etils import epath
import jax
import ml_collections

from vaegan_jax.run import config_upgrade
from vaegan_jax.run import distributed

FORMAT_VERSION = 1
NAME = 'config.json'


def is_remote(path: str) -> bool:
  """True for a URL-like path (gs://, s3://...), not on the local disk."""
  return '://' in str(path)


def absolute(path: str) -> str:
  """An absolute local path; a remote one as it is."""
  return str(path) if is_remote(path) else os.path.abspath(path)


def write(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes config.json (with the format version) next to the checkpoints."""
  path = epath.Path(absolute(workdir))
  path.mkdir(parents=True, exist_ok=True)
  payload = {'format_version': FORMAT_VERSION,
             'config': json.loads(config.to_json_best_effort())}
  tmp = path / (NAME + '.tmp')
  tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
  tmp.replace(path / NAME)  # Never a half-written config.json.


def check_shared(workdir: str) -> None:
  """Raises RuntimeError unless every process sees process 0's config.json.

  Call on every process after process 0 wrote it (`write`).  Checkpoints
  are written once for all processes, so a run on several hosts needs a
  workdir they share (gs://..., NFS); a local path would leave each host with
  a different resume step.
  """
  if jax.process_count() == 1:
    return
  distributed.barrier('vaegan_jax_config_written')
  unseen = not (epath.Path(absolute(workdir)) / NAME).is_file()
  raise_unless_shared(workdir, NAME, unseen)


def raise_unless_shared(workdir: str, what: str, unseen: bool) -> None:
  """Raises RuntimeError on every process if one cannot see process 0's
  `what` (`unseen` on that process); a collective in multi-process runs."""
  # Every process raises, so that none waits for the others in a collective.
  if distributed.any_process(unseen):
    raise RuntimeError(
        f'{"This process" if unseen else "Another process"} cannot see the '
        f'{what} that process 0 wrote in workdir={workdir!r} (process '
        f'{jax.process_index()} of {jax.process_count()}): a multi-process run '
        'needs a workdir that every host shares, e.g. '
        '--workdir=gs://BUCKET/runs/NAME or an NFS mount (docs/scaling.md).')


def read(workdir: str) -> ml_collections.ConfigDict:
  """Reads config.json; FileNotFoundError / ValueError when unusable."""
  directory = epath.Path(absolute(workdir))
  path = directory / NAME
  if not directory.is_dir():
    raise FileNotFoundError(
        f'workdir={workdir!r} does not exist; expected a directory written '
        'by train.py (or a pretrained/<name> directory).')
  if not path.is_file():
    raise FileNotFoundError(
        f'workdir={workdir!r} has no {NAME}; expected a directory '
        'written by train.py (or a pretrained/<name> directory).')
  try:
    payload = json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f'workdir={workdir!r}: {NAME} is not valid JSON '
                     f'({e}); expected the file train.py writes.') from None
  if not isinstance(payload, dict) or not isinstance(
      payload.get('config'), dict):
    raise ValueError(f'workdir={workdir!r}: {NAME} has no "config" '
                     'object; expected the file train.py writes.')
  version = payload.get('format_version')
  if version != FORMAT_VERSION:
    raise ValueError(
        f'workdir={workdir!r} was written with checkpoint format '
        f'{version!r}; this vaegan_jax reads format {FORMAT_VERSION}.')
  return ml_collections.ConfigDict(
      config_upgrade.upgrade(payload['config']))

"""Create-only writes of small files: the storage under workdir_lock.

`open_store(directory)` gives an object with names(), read(name),
create(name, text) -> bool (False when `name` already exists; atomic, the
file appears complete or not at all), overwrite(name, text) (atomic) and
delete(name), on a local disk or NFS (a hard link of a complete temporary
file, the classic NFS-safe lock; O_EXCL where links are not supported) or
on gs:// (an upload with if_generation_match=0).
"""
import errno
import os
from typing import Optional
import uuid


class StorageError(RuntimeError):
  """Storage without a create-only write, or that cannot be reached."""


class LocalStore:
  """Claim files in a local (or NFS-mounted) directory."""

  def __init__(self, directory: str):
    self.directory = directory
    os.makedirs(directory, exist_ok=True)

  def names(self) -> list[str]:
    return os.listdir(self.directory)

  def read(self, name: str) -> Optional[str]:
    try:
      with open(os.path.join(self.directory, name)) as f:
        return f.read()
    except FileNotFoundError:
      return None

  def _write_temp(self, text: str) -> str:
    tmp = os.path.join(self.directory, f'.tmp-{uuid.uuid4().hex}')
    with open(tmp, 'w') as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    return tmp

  def create(self, name: str, text: str) -> bool:
    """Writes `name` only if it does not exist; False if it did."""
    target = os.path.join(self.directory, name)
    tmp = self._write_temp(text)
    try:
      # A link appears complete or not at all, and is atomic over NFS.
      os.link(tmp, target)
      return True
    except FileExistsError:
      return False
    except OSError as e:
      if os.stat(tmp).st_nlink == 2:  # NFS: linked, but the reply was lost.
        return True
      if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP,
                         errno.ENOSYS):
        raise
      try:  # No hard links here (some FUSE mounts): O_EXCL instead.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
      except FileExistsError:
        return False
      with os.fdopen(fd, 'w') as f:
        f.write(text)
      return True
    finally:
      os.unlink(tmp)

  def overwrite(self, name: str, text: str) -> None:
    os.replace(self._write_temp(text), os.path.join(self.directory, name))

  def delete(self, name: str) -> None:
    try:
      os.unlink(os.path.join(self.directory, name))
    except FileNotFoundError:
      pass


class GcsStore:
  """Claim objects under gs://bucket/prefix (google-cloud-storage)."""

  def __init__(self, url: str):
    # pylint: disable=g-import-not-at-top
    from google.api_core import exceptions
    from google.cloud import storage
    # pylint: enable=g-import-not-at-top
    self._exceptions = exceptions
    bucket, _, prefix = url[len('gs://'):].partition('/')
    try:
      self._bucket = storage.Client().bucket(bucket)
    except Exception as e:  # pylint: disable=broad-except
      raise StorageError(f'Cannot reach {url}: {e}') from e
    self._prefix = prefix.rstrip('/') + '/'

  def names(self) -> list[str]:
    blobs = self._bucket.client.list_blobs(self._bucket, prefix=self._prefix)
    return [b.name[len(self._prefix):] for b in blobs]

  def read(self, name: str) -> Optional[str]:
    try:
      return self._bucket.blob(self._prefix + name).download_as_text()
    except self._exceptions.NotFound:
      return None

  def create(self, name: str, text: str) -> bool:
    try:
      self._bucket.blob(self._prefix + name).upload_from_string(
          text, if_generation_match=0)
      return True
    except self._exceptions.PreconditionFailed:
      # Also the answer to a retried upload whose first try succeeded:
      # `claim` reads the file back and recognises its own run id.
      return False

  def overwrite(self, name: str, text: str) -> None:
    self._bucket.blob(self._prefix + name).upload_from_string(text)

  def delete(self, name: str) -> None:
    try:
      self._bucket.blob(self._prefix + name).delete()
    except self._exceptions.NotFound:
      pass


def open_store(directory: str):
  """The store of `directory`: a local / NFS path or gs://bucket/prefix."""
  if directory.startswith('gs://'):
    return GcsStore(directory)
  if '://' in directory:
    raise StorageError(
        f'{directory}: a run can claim a workdir on a local disk, NFS or '
        'gs://, which offer a create-only write; this scheme does not. Use '
        'one of those.')
  return LocalStore(os.path.abspath(directory))

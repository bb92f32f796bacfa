"""vaegan-inpaint serve: a local web page to paint a hole and pick a fill.

  vaegan-inpaint serve                      # the shipped model, 127.0.0.1:8765
  vaegan-inpaint serve --workdir workdirs/default --port 9000

The page (vaegan_jax/inference/web/: plain HTML, CSS and JS on a canvas, no
external scripts, fonts or CDNs) uploads the photo once, then sends the
painted mask; the server fills it with `api.inpaint`: the default fill and
k samples of the prior, one after the other, so the page can show progress.
Photos and results stay in this process's memory (the last few only) and
are gone when it exits; nothing is written to disk.

The server is Python's own http.server: one process, one model, a thread
per request, and one fill at a time (a second is refused with 409).  As
Jupyter does, it answers only requests addressed to it: a Host header that
names neither the address served nor localhost gets 403 (DNS rebinding),
and so does a POST from a page of another origin (cross-site requests).
"""
import argparse
import base64
import dataclasses
import http.server
import importlib.resources
import io
import json
import re
import threading
import time
import uuid
from typing import Dict, List, Optional

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SAMPLES = 8
MAX_UPLOAD_BYTES = 256 * 2**20
KEEP_IMAGES = 32  # photos and results kept in memory, the newest
_WEB = importlib.resources.files('vaegan_jax') / 'inference' / 'web'
_LOCAL_NAMES = ('localhost', '127.0.0.1', '::1')
_ANY_ADDRESS = ('', '0.0.0.0', '::')
_STATIC = {'/': ('index.html', 'text/html; charset=utf-8'),
           '/app.js': ('app.js', 'text/javascript; charset=utf-8'),
           '/app.css': ('app.css', 'text/css; charset=utf-8')}


class BadRequest(ValueError):
  """A request the page should explain to the user (HTTP status, text)."""

  def __init__(self, message: str, status: int = 400):
    super().__init__(message)
    self.status = status


@dataclasses.dataclass
class Job:
  """One fill: the default and `total - 1` samples, done one by one."""
  id: str
  total: int
  done: int = 0
  state: str = 'running'  # 'running', 'done' or 'error'
  error: str = ''
  results: List[str] = dataclasses.field(default_factory=list)
  started: float = dataclasses.field(default_factory=time.time)
  seconds: float = 0.0

  def to_json(self) -> Dict:
    return {'id': self.id, 'state': self.state, 'done': self.done,
            'total': self.total, 'error': self.error,
            'results': self.results,
            'seconds': round(self.seconds or time.time() - self.started, 1)}


def _split_host(value: str):
  """(name, port or None) of a Host header or an origin's host part."""
  match = re.fullmatch(r'\[([0-9A-Fa-f:.]+)\](?::(\d+))?'  # [::1]:8765
                       r'|([^:\[\]]+)(?::(\d+))?', value or '')
  if not match:
    return None, None
  name = (match[1] or match[3]).lower().rstrip('.')
  port = match[2] or match[4]
  return name, (int(port) if port else None)


def check_addressed(headers, method: str, served: str, port: int) -> None:
  """BadRequest 403 unless the request names this server: its Host is the
  address served or a local name on this port, and a POST's Origin (when
  the browser sends one) is that same host.  Listening on every address
  (0.0.0.0) accepts any Host, since the names of the machine are unknown.
  """
  names = set(_LOCAL_NAMES) | {served.lower()}
  def ours(value: str) -> bool:
    name, given = _split_host(value)
    if name is None or given not in (None, port):
      return False
    return served in _ANY_ADDRESS or name in names
  if not ours(headers.get('Host', '')):
    raise BadRequest('Forbidden: this server answers only requests to '
                     f'its own address (Host: {headers.get("Host")!r}).', 403)
  origin = headers.get('Origin')
  if method == 'POST' and origin is not None:
    match = re.fullmatch(r'https?://(.+)', origin)
    if not match or not ours(match[1]):
      raise BadRequest('Forbidden: a page of another origin '
                       f'({origin!r}) cannot use this server.', 403)


def decode_photo(data: bytes) -> np.ndarray:
  """uint8 [H, W, 3] of an uploaded file, upright (EXIF orientation)."""
  if not data:
    raise BadRequest('The file is empty.')
  try:
    with Image.open(io.BytesIO(data)) as im:
      im = ImageOps.exif_transpose(im)
      return np.asarray(im.convert('RGB'))
  except UnidentifiedImageError:
    raise BadRequest('This file is not an image that can be read '
                     '(use JPEG, PNG or WebP).') from None
  except Image.DecompressionBombError as e:
    raise BadRequest(f'The image is too large to open safely: {e}',
                     413) from None
  except (OSError, SyntaxError, ValueError) as e:
    raise BadRequest(f'The image file is damaged or truncated ({e}).') from None


def decode_mask(data_url: str, shape) -> np.ndarray:
  """bool [H, W] of the page's mask (a PNG data URL, white = hole)."""
  from vaegan_jax.inference import inputs  # pylint: disable=g-import-not-at-top
  match = re.match(r'data:image/png;base64,(.*)$', data_url or '', re.S)
  if not match:
    raise BadRequest('The mask is missing or not a PNG data URL.')
  try:
    with Image.open(io.BytesIO(base64.b64decode(match[1]))) as im:
      mask = np.asarray(im.convert('L'))
  except (UnidentifiedImageError, OSError, ValueError) as e:
    raise BadRequest(f'The mask could not be read ({e}).') from None
  if mask.shape != tuple(shape[:2]):
    raise BadRequest(f'The mask is {mask.shape[1]}x{mask.shape[0]} px but the '
                     f'photo is {shape[1]}x{shape[0]}.')
  hole = inputs.holes(mask)
  if not hole.any():
    raise BadRequest('The mask is empty: paint over the part to replace '
                     'first.')
  return hole


def png_bytes(image: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format='PNG', compress_level=1)
  return buffer.getvalue()


class Studio:
  """The server's state: the model, the images in memory, the one fill."""

  def __init__(self, params, fill_fn=None):
    # pylint: disable=g-import-not-at-top
    from vaegan_jax.inference import api
    # pylint: enable=g-import-not-at-top
    self.params = params
    self.fill_fn = fill_fn or api.inpaint
    self.images: Dict[str, np.ndarray] = {}
    self.jobs: Dict[str, Job] = {}
    self.lock = threading.Lock()
    self.running: Optional[Job] = None

  def add_image(self, image: np.ndarray) -> str:
    with self.lock:
      key = uuid.uuid4().hex[:12]
      self.images[key] = image
      while len(self.images) > KEEP_IMAGES:
        self.images.pop(next(iter(self.images)))
      return key

  def image(self, key: str) -> np.ndarray:
    with self.lock:
      if key not in self.images:
        raise BadRequest('That image is no longer in memory; open the photo '
                         'again.', 404)
      return self.images[key]

  def start_fill(self, photo: str, mask_url: str, samples: int,
                 seed: int) -> Job:
    """Checks the request and starts the fill in a thread (409 if busy)."""
    if not isinstance(samples, int) or not 0 <= samples <= MAX_SAMPLES:
      raise BadRequest(f'samples must be 0..{MAX_SAMPLES}.')
    image = self.image(photo)
    hole = decode_mask(mask_url, image.shape)
    with self.lock:
      if self.running is not None:
        raise BadRequest('A fill is already running; wait for it to finish.',
                         409)
      job = Job(id=uuid.uuid4().hex[:12], total=1 + samples)
      self.jobs[job.id] = job
      self.running = job
    threading.Thread(target=self._fill, args=(job, image, hole, int(seed)),
                     daemon=True).start()
    return job

  def _fill(self, job: Job, image, hole, seed: int) -> None:
    import jax  # pylint: disable=g-import-not-at-top
    try:
      for i in range(job.total):
        # The default fill first, then one sample of the prior at a time.
        rng = None if i == 0 else jax.random.fold_in(
            jax.random.PRNGKey(seed), i)
        out = self.fill_fn(self.params, image, hole, rng=rng)
        job.results.append(self.add_image(np.asarray(out)))
        job.done = i + 1
      job.state = 'done'
    except MemoryError as e:
      job.state, job.error = 'error', f'Not enough memory: {e}'
    except Exception as e:  # pylint: disable=broad-except
      job.state, job.error = 'error', f'The fill failed: {e}'
    finally:
      job.seconds = time.time() - job.started
      with self.lock:
        self.running = None


class Handler(http.server.BaseHTTPRequestHandler):
  """The page's routes; every error is a JSON {error} the page shows."""
  studio: Studio = None  # set by make_server
  protocol_version = 'HTTP/1.1'

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    del format, args  # quiet: the terminal shows the address and errors only

  def _send(self, status: int, body: bytes, content_type: str) -> None:
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(body)))
    self.send_header('Cache-Control', 'no-store')
    self.end_headers()
    self.wfile.write(body)

  def _json(self, status: int, payload) -> None:
    self._send(status, json.dumps(payload).encode(), 'application/json')

  def _body(self) -> bytes:
    length = int(self.headers.get('Content-Length') or 0)
    if length > MAX_UPLOAD_BYTES:
      raise BadRequest(f'The upload is larger than '
                       f'{MAX_UPLOAD_BYTES // 2**20} MiB.', 413)
    return self.rfile.read(length)

  def _route(self, method: str) -> None:
    try:
      host, port = self.server.server_address[:2]
      check_addressed(self.headers, method, host, port)
      path = self.path.split('?', 1)[0]
      if method == 'GET' and path in _STATIC:
        name, kind = _STATIC[path]
        self._send(200, (_WEB / name).read_bytes(), kind)
      elif method == 'POST' and path == '/api/photo':
        image = decode_photo(self._body())
        key = self.studio.add_image(image)
        self._json(200, {'id': key, 'width': image.shape[1],
                         'height': image.shape[0]})
      elif method == 'POST' and path == '/api/fill':
        try:
          request = json.loads(self._body() or b'{}')
        except json.JSONDecodeError:
          raise BadRequest('The request is not JSON.') from None
        job = self.studio.start_fill(
            request.get('photo', ''), request.get('mask', ''),
            request.get('samples', 0), request.get('seed', 0))
        self._json(200, job.to_json())
      elif method == 'GET' and path.startswith('/api/job/'):
        job = self.studio.jobs.get(path.rsplit('/', 1)[1])
        if job is None:
          raise BadRequest('No such fill.', 404)
        self._json(200, job.to_json())
      elif method == 'GET' and re.match(r'^/api/image/\w+(/thumb)?\.png$',
                                        path):
        key = path.split('/')[3].split('.')[0]
        image = self.studio.image(key)
        if path.endswith('/thumb.png'):
          im = Image.fromarray(image)
          im.thumbnail((320, 320))
          image = np.asarray(im)
        self._send(200, png_bytes(image), 'image/png')
      else:
        raise BadRequest(f'Not found: {path}', 404)
    except BadRequest as e:
      if e.status == 403:  # Its body is not read: no reuse.
        self.close_connection = True
      self._json(e.status, {'error': str(e)})
    except MemoryError as e:
      self._json(507, {'error': f'Not enough memory: {e}'})
    except (BrokenPipeError, ConnectionResetError):
      pass  # the page went away

  def do_GET(self):  # pylint: disable=invalid-name
    self._route('GET')

  def do_POST(self):  # pylint: disable=invalid-name
    self._route('POST')


def make_server(studio: Studio, host: str = '127.0.0.1',
                port: int = 8765) -> http.server.ThreadingHTTPServer:
  """A server for `studio` (port 0: any free port; see server_address)."""
  handler = type('StudioHandler', (Handler,), {'studio': studio})
  server = http.server.ThreadingHTTPServer((host, port), handler)
  server.daemon_threads = True
  return server


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='vaegan-inpaint serve',
      description=__doc__.split('\n\n', 1)[1].split('\n\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--workdir', default=None,
                      help='a training workdir or exported model (default: '
                      'the shipped pretrained/vaegan64)')
  parser.add_argument('--host', default='127.0.0.1',
                      help='address to listen on (default 127.0.0.1: this '
                      'machine only)')
  parser.add_argument('--port', type=int, default=8765,
                      help='port (default 8765; 0 picks a free one)')
  return parser


def main(argv=None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  # pylint: disable=g-import-not-at-top
  from vaegan_jax.inference import api
  from vaegan_jax.run import startup
  # pylint: enable=g-import-not-at-top
  startup.prepare(uses_tf=False)
  startup.use_compile_cache()
  try:
    params = api.load_params(args.workdir)
  except (OSError, ValueError) as e:
    parser.error(f'cannot load the model: {e}')
  try:
    server = make_server(Studio(params), args.host, args.port)
  except OSError as e:
    parser.error(f'cannot listen on {args.host}:{args.port}: {e}')
  host, port = server.server_address[:2]
  print(f'Serving {params.source} (step {params.step}) at '
        f'http://{host}:{port}/  (Ctrl-C stops)', flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
  return 0

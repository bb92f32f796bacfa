"""vaegan-inpaint serve: every bad input gets a clear error, and the server
keeps answering; fills run one at a time.  (The page itself, in a real
browser: test_serve_browser.py.)"""
import base64
import io
import json
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image
import pytest

from vaegan_jax.inference import api
from vaegan_jax.inference import inputs
from vaegan_jax.inference import serve


def _mean_fill(params, image, hole, rng=None):
  """A fast stand-in for inpaint: the mean colour of the known pixels."""
  del params
  out = image.copy()
  shift = 0 if rng is None else 40
  out[hole] = (image[~hole].mean(axis=0) + shift).clip(0, 255).astype(np.uint8)
  return out


class Client:
  def __init__(self, server):
    self.url = 'http://%s:%d' % server.server_address[:2]

  def request(self, path, data=None, content_type='application/json',
              headers=None):
    """(status, decoded body) of a GET (data None) or POST."""
    if isinstance(data, dict):
      data = json.dumps(data).encode()
    req = urllib.request.Request(self.url + path, data=data, headers=dict(
        {'Content-Type': content_type}, **(headers or {})))
    try:
      with urllib.request.urlopen(req, timeout=60) as response:
        status, body = response.status, response.read()
        kind = response.headers['Content-Type']
    except urllib.error.HTTPError as e:
      status, body, kind = e.code, e.read(), e.headers['Content-Type']
    return status, (json.loads(body) if 'json' in kind else body)

  def alive(self):
    status, page = self.request('/')
    return status == 200 and b'<canvas id="photo">' in page


def _serve(fill_fn, params=None):
  studio = serve.Studio(params, fill_fn=fill_fn)
  server = serve.make_server(studio, port=0)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  return server, Client(server)


@pytest.fixture
def client():
  server, c = _serve(_mean_fill)
  yield c
  server.shutdown()
  server.server_close()


def _png(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format='PNG')
  return buffer.getvalue()


def _mask_url(hole):
  return 'data:image/png;base64,' + base64.b64encode(
      _png(hole.astype(np.uint8) * 255)).decode()


def _photo(h=48, w=64):
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _wait(client, job):
  deadline = time.time() + 120
  while job['state'] == 'running' and time.time() < deadline:
    time.sleep(0.05)
    _, job = client.request(f"/api/job/{job['id']}")
  return job


def test_page_and_a_fill_round_trip(client):
  status, page = client.request('/')
  assert status == 200 and b'<canvas id="mask">' in page
  for asset in ('/app.js', '/app.css'):
    assert client.request(asset)[0] == 200
  photo = _photo()
  status, info = client.request('/api/photo', _png(photo), 'image/png')
  assert status == 200 and (info['width'], info['height']) == (64, 48)
  hole = np.zeros((48, 64), bool)
  hole[10:30, 20:40] = True
  status, job = client.request('/api/fill', {
      'photo': info['id'], 'mask': _mask_url(hole), 'samples': 2, 'seed': 1})
  assert status == 200 and job['total'] == 3
  job = _wait(client, job)
  assert job['state'] == 'done' and len(job['results']) == 3
  outs = []
  for key in job['results']:
    status, body = client.request(f'/api/image/{key}.png')
    outs.append(np.asarray(Image.open(io.BytesIO(body))))
    np.testing.assert_array_equal(outs[-1][~hole], photo[~hole])
  assert not np.array_equal(outs[0][hole], outs[1][hole])
  status, thumb = client.request(f"/api/image/{job['results'][0]}/thumb.png")
  assert status == 200 and Image.open(io.BytesIO(thumb)).size == (64, 48)


def test_requests_to_another_host_are_refused():
  """DNS rebinding: a name that resolves to 127.0.0.1 but is not ours."""
  server, client = _serve(_mean_fill)
  try:
    port = server.server_address[1]
    for host, status in ((f'127.0.0.1:{port}', 200),
                         (f'localhost:{port}', 200),
                         (f'LOCALHOST.:{port}', 200),
                         (f'[::1]:{port}', 200),
                         (f'evil.example:{port}', 403),
                         ('evil.example', 403),
                         (f'127.0.0.1:{port + 1}', 403),
                         (f'127.0.0.1.evil.example:{port}', 403),
                         ('', 403)):
      got, body = client.request('/', headers={'Host': host})
      assert got == status, (host, body)
      if status == 403:
        assert 'own address' in body['error']
    status, _ = client.request('/api/photo', _png(_photo()), 'image/png',
                               headers={'Host': f'evil.example:{port}'})
    assert status == 403 and not server.RequestHandlerClass.studio.images
  finally:
    server.shutdown()
    server.server_close()


def test_posts_from_another_origin_are_refused():
  server, client = _serve(_mean_fill)
  studio = server.RequestHandlerClass.studio
  try:
    port = server.server_address[1]
    for origin in ('http://evil.example', f'http://evil.example:{port}',
                   f'https://127.0.0.1:{port + 1}', 'null'):
      status, body = client.request('/api/photo', _png(_photo()), 'image/png',
                                    headers={'Origin': origin})
      assert status == 403 and 'another origin' in body['error'], origin
    assert not studio.images  # Nothing was stored.
    status, info = client.request('/api/photo', _png(_photo()), 'image/png',
                                  headers={'Origin': f'http://localhost:{port}'})
    assert status == 200
    hole = np.zeros((48, 64), bool)
    hole[10:30, 20:40] = True
    request = {'photo': info['id'], 'mask': _mask_url(hole)}
    status, _ = client.request('/api/fill', request,
                               headers={'Origin': 'http://evil.example'})
    assert status == 403 and not studio.jobs
    # A GET from anywhere only reads the page (the browser keeps the
    # answer from the other origin's script); a client without Origin
    # (curl, scripts) may post.
    assert client.request('/', headers={'Origin': 'http://evil.example'}
                          )[0] == 200
    status, job = client.request('/api/fill', request)
    assert status == 200 and _wait(client, job)['state'] == 'done'
  finally:
    server.shutdown()
    server.server_close()


def test_listening_on_every_address_accepts_any_host_name():
  serve.check_addressed({'Host': 'my-workstation:8765'}, 'GET', '0.0.0.0',
                        8765)
  serve.check_addressed({'Host': 'my-workstation:8765',
                         'Origin': 'http://my-workstation:8765'}, 'POST',
                        '0.0.0.0', 8765)
  with pytest.raises(serve.BadRequest, match='own address'):
    serve.check_addressed({'Host': 'my-workstation:9999'}, 'GET', '0.0.0.0',
                          8765)


@pytest.mark.parametrize('case,status,match', [
    ('not_an_image', 400, 'not an image'),
    ('truncated', 400, 'damaged or truncated'),
    ('empty_file', 400, 'empty'),
    ('empty_mask', 400, 'mask is empty'),
    ('wrong_mask_size', 400, 'the photo is 64x48'),
    ('bad_json', 400, 'not JSON'),
    ('unknown_photo', 404, 'no longer in memory'),
    ('too_many_samples', 400, 'samples must be 0..8'),
])
@pytest.mark.heavy
def test_bad_input_is_explained_and_the_server_keeps_answering(
    client, case, status, match):
  photo = _png(_photo())
  if case in ('not_an_image', 'truncated', 'empty_file'):
    data = {'not_an_image': b'%PDF-1.4 not a photo',
            'truncated': photo[:len(photo) // 2], 'empty_file': b''}[case]
    got, body = client.request('/api/photo', data, 'image/png')
  elif case == 'bad_json':
    got, body = client.request('/api/fill', b'{photo:', 'application/json')
  else:
    _, info = client.request('/api/photo', photo, 'image/png')
    hole = np.zeros((48, 64), bool)
    hole[5:9, 5:9] = case != 'empty_mask'
    request = {'photo': info['id'], 'mask': _mask_url(hole), 'samples': 1}
    if case == 'wrong_mask_size':
      request['mask'] = _mask_url(np.ones((10, 10), bool))
    if case == 'unknown_photo':
      request['photo'] = 'feedbeef'
    if case == 'too_many_samples':
      request['samples'] = 9
    got, body = client.request('/api/fill', request)
  assert got == status and match in body['error'], body
  assert client.alive()


def test_two_fills_at_once_the_second_is_refused():
  release = threading.Event()

  def slow_fill(*args, **kwargs):
    release.wait(30)
    return _mean_fill(*args, **kwargs)
  server, client = _serve(slow_fill)
  try:
    _, info = client.request('/api/photo', _png(_photo()), 'image/png')
    hole = np.zeros((48, 64), bool)
    hole[5:20, 5:20] = True
    request = {'photo': info['id'], 'mask': _mask_url(hole), 'samples': 0}
    status, first = client.request('/api/fill', request)
    assert status == 200
    status, body = client.request('/api/fill', request)
    assert status == 409 and 'already running' in body['error']
    assert client.alive()
    release.set()
    assert _wait(client, first)['state'] == 'done'
    assert client.request('/api/fill', request)[0] == 200  # free again
  finally:
    release.set()
    server.shutdown()
    server.server_close()


def test_start_up_errors_are_the_serve_commands_own(tmp_path, capsys):
  with pytest.raises(SystemExit) as info:
    serve.main(['--workdir', str(tmp_path / 'nothere')])
  err = capsys.readouterr().err
  assert info.value.code == 2
  assert err.splitlines()[-1].startswith(
      'vaegan-inpaint serve: error: cannot load the model'), err
  busy = serve.make_server(serve.Studio(None), port=0)
  try:
    with pytest.raises(SystemExit) as info:
      serve.main(['--port', str(busy.server_address[1])])
    err = capsys.readouterr().err
    assert info.value.code == 2 and 'error: cannot listen on' in err, err
  finally:
    busy.server_close()


def test_a_photo_too_large_for_memory_is_reported_as_text(monkeypatch):
  params = api.load_params()  # None: the shipped model
  monkeypatch.setattr(inputs, 'available_bytes', lambda device: 2**20)
  server, client = _serve(api.inpaint, params)
  try:
    photo = np.full((700, 900, 3), 128, np.uint8)
    _, info = client.request('/api/photo', _png(photo), 'image/png')
    hole = np.zeros(photo.shape[:2], bool)
    hole[100:400, 200:600] = True
    _, job = client.request('/api/fill', {
        'photo': info['id'], 'mask': _mask_url(hole), 'samples': 0})
    job = _wait(client, job)
    assert job['state'] == 'error'
    assert job['error'].startswith('Not enough memory:') and 'GiB' in (
        job['error'])
    assert client.alive()
  finally:
    server.shutdown()
    server.server_close()


def test_masks_follow_the_one_hole_rule():
  # Anti-aliased edges of a painted mask: cut at half of 255, not at 0.
  gray = np.array([[0, 100, 128, 255]], np.uint8)
  url = 'data:image/png;base64,' + base64.b64encode(_png(gray)).decode()
  np.testing.assert_array_equal(serve.decode_mask(url, (1, 4)),
                                [[False, False, True, True]])

"""The page of `vaegan-inpaint serve` in a real headless Chromium.

Opens the page, loads a photo through the file picker, paints a stroke with
real pointer events, fills with k alternatives, downloads a result and
checks its pixels; then paints on the result and fills again.  The browser's
request log must name no host but the server.
"""
import io
import json
import os
import threading
import time
import urllib.request

import numpy as np
from PIL import Image
import pytest

from tests.conftest import ROOT
from vaegan_jax.inference import api
from vaegan_jax.inference import serve

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'


def make_driver(download_dir, width=1400, height=900):
  """Headless Debian Chromium with its request log on (.ci/run installs it)."""
  # pylint: disable=g-import-not-at-top
  from selenium import webdriver
  from selenium.webdriver.chrome.service import Service
  # pylint: enable=g-import-not-at-top
  assert os.path.exists(CHROMEDRIVER), (
      'needs chromium and chromium-driver: apt-get install chromium '
      'chromium-driver (.ci/run does)')
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ('--headless=new', '--no-sandbox', '--disable-gpu',
               '--disable-dev-shm-usage', '--disable-background-networking',
               '--disable-component-update', '--disable-sync',
               '--no-first-run', '--disable-default-apps',
               f'--window-size={width},{height}',
               f'--user-data-dir={download_dir}/profile'):
    options.add_argument(flag)
  options.add_experimental_option('prefs', {
      'download.default_directory': str(download_dir),
      'download.prompt_for_download': False})
  options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
  return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def requested_urls(driver):
  """Every URL the page asked for, from Chromium's performance log."""
  urls = []
  for entry in driver.get_log('performance'):
    message = json.loads(entry['message'])['message']
    if message['method'] == 'Network.requestWillBeSent':
      urls.append(message['params']['request']['url'])
  return urls


def wait_for(condition, timeout, what):
  """condition()'s first true value; the page may re-render meanwhile."""
  # pylint: disable=g-import-not-at-top
  from selenium.common.exceptions import StaleElementReferenceException
  # pylint: enable=g-import-not-at-top
  deadline = time.time() + timeout
  while time.time() < deadline:
    try:
      value = condition()
    except StaleElementReferenceException:
      value = None
    if value:
      return value
    time.sleep(0.2)
  raise AssertionError(f'timed out waiting for {what}')


def paint(driver, points):
  """A stroke through `points` (fractions of the canvas) with real pointer
  events; returns the points in image pixels."""
  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.action_chains import ActionChains
  from selenium.webdriver.common.by import By
  # pylint: enable=g-import-not-at-top
  canvas = driver.find_element(By.ID, 'mask')
  rect = canvas.rect
  size = driver.execute_script(
      'return [arguments[0].width, arguments[0].height]', canvas)
  px = [(round(fx * rect['width'] - rect['width'] / 2),
         round(fy * rect['height'] - rect['height'] / 2)) for fx, fy in points]
  actions = ActionChains(driver)
  actions.move_to_element_with_offset(canvas, *px[0]).click_and_hold()
  for (x0, y0), (x1, y1) in zip(px, px[1:]):
    actions.move_by_offset(x1 - x0, y1 - y0)
  actions.release().perform()
  return [(fx * size[0], fy * size[1]) for fx, fy in points]


def near_stroke(shape, points, radius):
  """bool [H, W]: pixels within `radius` of the polyline `points`."""
  yy, xx = np.mgrid[:shape[0], :shape[1]] + 0.5
  near = np.zeros(shape, bool)
  for (x0, y0), (x1, y1) in zip(points, points[1:]):
    d = np.array([x1 - x0, y1 - y0])
    t = np.clip(((xx - x0) * d[0] + (yy - y0) * d[1]) / max(d @ d, 1e-9),
                0, 1)
    near |= np.hypot(xx - x0 - t * d[0], yy - y0 - t * d[1]) <= radius
  return near


def fetch_png(url):
  """uint8 [H, W, 3] of a PNG the server sends."""
  with urllib.request.urlopen(url, timeout=60) as response:
    return np.asarray(Image.open(io.BytesIO(response.read())).convert('RGB'))


@pytest.mark.heavy
def test_paint_fill_pick_download_in_a_real_browser(tmp_path):
  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.by import By
  # pylint: enable=g-import-not-at-top
  photo = np.asarray(Image.open(os.path.join(ROOT, 'examples', 'photo.jpg'))
                     .convert('RGB'))[300:480, 400:640]  # 240 x 180
  Image.fromarray(photo).save(tmp_path / 'photo.png')
  server = serve.make_server(serve.Studio(api.load_params(api.DEFAULT_MODEL)),
                             port=0)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  url = 'http://%s:%d/' % server.server_address[:2]
  downloads = tmp_path / 'downloads'
  downloads.mkdir()
  driver = make_driver(downloads)
  try:
    driver.get(url)
    status = lambda: driver.find_element(By.ID, 'status').text  # pylint: disable=unnecessary-lambda-assignment
    # A file that is not a photo: the page says so, and goes on working.
    (tmp_path / 'notes.png').write_bytes(b'not a photo at all')
    driver.find_element(By.ID, 'file').send_keys(str(tmp_path / 'notes.png'))
    wait_for(lambda: 'not an image' in status(), 60, 'the error')
    assert 'error' in driver.find_element(By.ID, 'status').get_attribute(
        'class')
    driver.find_element(By.ID, 'file').send_keys(str(tmp_path / 'photo.png'))
    wait_for(lambda: 'Paint over' in status(), 60, 'the photo')
    driver.execute_script("document.getElementById('brush').value = 12;"
                          "document.getElementById('brush').oninput();")
    driver.find_element(By.ID, 'samples').clear()
    driver.find_element(By.ID, 'samples').send_keys('2')
    stroke = paint(driver, [(0.3, 0.55), (0.45, 0.6), (0.62, 0.5)])
    driver.find_element(By.ID, 'fill').click()
    wait_for(lambda: 'Filled' in status() or 'failed' in status(), 600,
             'the thumbnails')
    ids = driver.execute_script(
        "return [...document.querySelectorAll('#results figure')]"
        '.map((f) => f.dataset.id)')
    assert len(ids) == 3, status()
    driver.find_element(By.CSS_SELECTOR, f'figure[data-id="{ids[1]}"]'
                        ).click()  # the first alternative, large
    wait_for(lambda: 'selected' in driver.find_element(
        By.CSS_SELECTOR, f'figure[data-id="{ids[1]}"]').get_attribute('class'),
             30, 'the selection')
    driver.find_element(By.ID, 'download').click()
    saved = wait_for(lambda: [p for p in downloads.glob('*.png')], 60,
                     'the download')
    got = np.asarray(Image.open(saved[0]).convert('RGB'))
    assert got.shape == photo.shape
    # Pixels outside the painted stroke are the photo's, bit for bit; the
    # hole is where the stroke went.
    changed = np.any(got != photo, axis=-1)
    assert changed.any()
    assert not (changed & ~near_stroke(photo.shape[:2], stroke, 6 + 3)).any()
    np.testing.assert_array_equal(
        got, fetch_png(f'{url}api/image/{ids[1]}.png'))
    # The k + 1 fills differ in the hole.
    fills = [fetch_png(f'{url}api/image/{key}.png') for key in ids]
    hole = near_stroke(photo.shape[:2], stroke, 3)
    for i in range(3):
      for j in range(i):
        assert np.abs(fills[i][hole].astype(int) - fills[j][hole]).mean() > 1

    # Paint more on the chosen fill and fill again: the first fill stays
    # where the new stroke is not.
    driver.find_element(By.ID, 'useResult').click()
    driver.find_element(By.ID, 'samples').clear()
    driver.find_element(By.ID, 'samples').send_keys('0')
    second = paint(driver, [(0.2, 0.2), (0.3, 0.25)])
    driver.find_element(By.ID, 'fill').click()
    wait_for(lambda: 'Filled' in status() or 'failed' in status(), 600,
             'the refill')
    assert len(driver.find_elements(By.CSS_SELECTOR, '#results figure')) == 1
    key = driver.find_element(By.CSS_SELECTOR, '#results figure'
                              ).get_attribute('data-id')
    again = fetch_png(f'{url}api/image/{key}.png')
    outside = ~near_stroke(photo.shape[:2], second, 6 + 3)
    np.testing.assert_array_equal(again[outside], fills[1][outside])
    assert (again != fills[1]).any()

    driver.save_screenshot(str(tmp_path / 'page.png'))
    hosts = {u.split('/')[2] for u in requested_urls(driver)
             if u.startswith(('http:', 'https:', 'ws:'))}
    others = [u for u in requested_urls(driver)
              if not u.startswith((url, 'data:', 'blob:'))]
    assert not others, others
    assert hosts == {url.split('/')[2]}
    # The console's errors: only the refused non-image above.
    severe = [e['message'] for e in driver.get_log('browser')
              if e['level'] == 'SEVERE']
    assert all('/api/photo' in m and '400' in m for m in severe), severe
  finally:
    driver.quit()
    server.shutdown()
    server.server_close()

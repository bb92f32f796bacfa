"""Writes docs/serve.png: the page of `vaegan-inpaint serve` after a fill.

  python examples/serve_screenshot.py [--output docs/serve.png]

Serves the shipped model, opens examples/photo.jpg in headless Chromium,
paints over the two boulders with real pointer events, fills with three
alternatives and shows the first one large.  Uses the browser test's
helpers (tests/inference/test_serve_browser.py).
"""
import argparse
import os
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# pylint: disable=g-import-not-at-top,wrong-import-position
from selenium.webdriver.common.by import By

from tests.inference import test_serve_browser as browser
from vaegan_jax.inference import api
from vaegan_jax.inference import serve
# pylint: enable=g-import-not-at-top,wrong-import-position


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output', default=os.path.join(ROOT, 'docs',
                                                       'serve.png'))
  args = parser.parse_args()
  server = serve.make_server(serve.Studio(api.load_params(api.DEFAULT_MODEL)),
                             port=0)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  url = 'http://%s:%d/' % server.server_address[:2]
  with tempfile.TemporaryDirectory() as tmp:
    driver = browser.make_driver(tmp, 1400, 860)
    try:
      driver.get(url)
      driver.find_element(By.ID, 'file').send_keys(
          os.path.join(ROOT, 'examples', 'photo.jpg'))
      status = lambda: driver.find_element(By.ID, 'status').text  # pylint: disable=unnecessary-lambda-assignment
      browser.wait_for(lambda: 'Paint over' in status(), 60, 'the photo')
      driver.find_element(By.ID, 'samples').clear()
      driver.find_element(By.ID, 'samples').send_keys('3')
      for size, stroke in ((40, [(0.485, 0.664), (0.515, 0.664)]),
                           (56, [(0.765, 0.91), (0.805, 0.915)])):
        driver.execute_script(
            f"document.getElementById('brush').value = {size};"
            "document.getElementById('brush').oninput();")
        browser.paint(driver, stroke)
      driver.save_screenshot(args.output.replace('.png', '_painted.png'))
      driver.find_element(By.ID, 'fill').click()
      browser.wait_for(lambda: 'Filled' in status() or 'failed' in status(),
                       900, 'the fill')
      print(status())
      driver.find_element(By.CSS_SELECTOR, '#results figure:nth-child(2)'
                          ).click()
      browser.wait_for(lambda: 'selected' in driver.find_element(
          By.CSS_SELECTOR, '#results figure:nth-child(2)').get_attribute(
              'class'), 30, 'the selection')
      driver.save_screenshot(args.output)
      print('wrote', args.output)
    finally:
      driver.quit()
      server.shutdown()


if __name__ == '__main__':
  main()

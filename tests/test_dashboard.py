"""The dashboard as a user meets it: `python -m util.dashboard` serves visdom's page without internet, a
real train.py run fills it with its losses and images, and headless Chromium renders both; the HTML
page's loss plot. (tests/test_visdom_assets.py checks where util/visdom_assets.py puts visdom's web assets.)

Screenshots are kept in pytest's tmp folder; UPDATE_SCREENSHOTS=1 also copies them to docs/images/."""
import base64
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, TINY, run_script, train_options
from util import visdom_assets
from util.visualizer import LOSS_PLOT, Visualizer

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
                  '--no-first-run', '--disable-component-update', '--disable-sync']
NAME = 'dash'  # the run's name, hence its visdom environment
LOSSES = ['D_A', 'G_A', 'Recyc_A', 'Pred_A', 'D_B', 'G_B', 'Recyc_B', 'Pred_B']
TIMEOUT_S = 60


def wait_for(ready, what, timeout=TIMEOUT_S):
    """Poll ready() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (result := ready()):
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        time.sleep(0.2)
    return result


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def keep_screenshot(png, path):
    """Save a screenshot; with UPDATE_SCREENSHOTS=1 also a 256-colour copy in docs/images/."""
    path.write_bytes(png)
    if os.environ.get('UPDATE_SCREENSHOTS') == '1':
        docs = os.path.join(ROOT, 'docs', 'images', path.name)
        Image.open(io.BytesIO(png)).convert('RGB').quantize(256).save(docs, optimize=True)


class Chromium:
    """Headless Chromium driven over the DevTools protocol (websocket-client comes with visdom)."""

    def __init__(self, executable, profile):
        import websocket
        log, port_file = profile / 'chromium.log', profile / 'DevToolsActivePort'
        with open(log, 'w') as output:
            self.process = subprocess.Popen([executable, *CHROMIUM_FLAGS, f'--user-data-dir={profile}',
                                             '--remote-debugging-port=0', 'about:blank'], stdout=output, stderr=output)

        def started():  # with port 0 Chromium picks a free one and writes it into the profile
            assert self.process.poll() is None, f'Chromium exited:\n{log.read_text()[-3000:]}'
            return port_file.exists() and port_file.read_text().split()[:1]

        port = wait_for(started, 'Chromium to start')[0]
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list') as response:
            page = next(t for t in json.load(response) if t['type'] == 'page')
        self.socket = websocket.create_connection(page['webSocketDebuggerUrl'], suppress_origin=True, timeout=30)
        self.calls = 0
        self.call('Emulation.setDeviceMetricsOverride', width=1280, height=800, deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.calls += 1
        self.socket.send(json.dumps({'id': self.calls, 'method': method, 'params': params}))
        while (reply := json.loads(self.socket.recv())).get('id') != self.calls:
            pass  # an event
        assert 'error' not in reply, reply
        return reply['result']

    def evaluate(self, expression, await_promise=False):
        """The JSON value of a JavaScript expression in the page (of the promise's result with await_promise);
        None if it throws."""
        result = self.call('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=await_promise)
        return None if 'exceptionDetails' in result else result['result'].get('value')

    def open(self, url):
        self.call('Page.navigate', url=url)

    def screenshot(self):
        return base64.b64decode(self.call('Page.captureScreenshot', format='png')['data'])

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    executable = next(filter(None, map(shutil.which, ('chromium', 'chromium-browser', 'google-chrome'))), None)
    if executable is None:
        pytest.skip('no Chromium to check the dashboard in: install Debian\'s `chromium` package '
                    '(apt-get install chromium; .ci/run does it when run as root)')
    chromium = Chromium(executable, tmp_path_factory.mktemp('chromium-profile'))
    yield chromium
    chromium.close()


@pytest.fixture(scope='module')
def dashboard(tmp_path_factory):
    """`python -m util.dashboard` on a free port: (port, what it printed on starting)."""
    port, folder = free_port(), tmp_path_factory.mktemp('dashboard')
    log = folder / 'output.txt'
    with open(log, 'w') as output:
        process = subprocess.Popen([sys.executable, '-m', 'util.dashboard', '--port', str(port),
                                    '--env_path', str(folder / 'env')], cwd=ROOT, stdout=output, stderr=output)

    def started():
        assert process.poll() is None, f'the dashboard exited:\n{log.read_text()}'
        return 'Ctrl+C' in log.read_text() and log.read_text()

    yield port, wait_for(started, 'the dashboard to start')
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope='module')
def trained(dashboard, tiny_data, tmp_path_factory):
    """Two epochs of recycle_gan on the tiny data (8 triplets) reporting to the dashboard: losses every
    2 examples, images (on visdom and the HTML page alike) every 4."""
    port, _ = dashboard
    checkpoints = tmp_path_factory.mktemp('checkpoints')
    with pytest.MonkeyPatch.context() as env:
        # networks this small gain nothing from threads, and lose a lot on a busy machine (measured: 88 s -> 11 s)
        env.setenv('OMP_NUM_THREADS', '1')
        run_script('train.py', '--dataroot', tiny_data, '--name', NAME, '--checkpoints_dir', str(checkpoints),
            '--model', 'recycle_gan', '--niter', '1', '--niter_decay', '1', '--pool_size', '0', '--seed', '0',
            '--print_freq', '2', '--display_freq', '4', '--update_html_freq', '4', *TINY,
            '--display_id', '1', '--display_port', str(port), '--display_winsize', '128')
    return checkpoints / NAME


def pixels(png):
    """(H, W, 3) uint8 of a PNG file or file-like."""
    return np.asarray(Image.open(png).convert('RGB'))


def logged_losses(folder):
    """{loss name: [values]} from loss_log.txt (3 decimals)."""
    lines = [line for line in (folder / 'loss_log.txt').read_text().splitlines() if line.startswith('(epoch')]
    pairs = [re.findall(r'(\w+): ([-\d.]+)', line.split(') ', 1)[1]) for line in lines]
    return {name: [float(dict(p)[name]) for p in pairs] for name, _ in pairs[0]}


def test_dashboard_shows_the_runs_losses_and_images(browser, dashboard, trained, tmp_path):
    port, printed = dashboard
    assert f'visdom dashboard at http://127.0.0.1:{port}' in printed
    browser.open(f'http://127.0.0.1:{port}/env/{NAME}')

    # the loss pane: one plotly trace per loss, every logged point at its fractional epoch
    traces = wait_for(lambda: browser.evaluate(
        "Array.from(document.querySelectorAll('.js-plotly-plot'), p => p.data).flat()"
        ".map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))"), 'the loss plot')
    assert [t['name'] for t in traces] == LOSSES
    logged = logged_losses(trained)
    for trace in traces:
        assert trace['x'] == pytest.approx([1 + k / 4 for k in range(1, 9)])  # 2 epochs of 8 examples, every 2
        assert trace['y'] == pytest.approx(logged[trace['name']], abs=5e-4)
    rendered = browser.evaluate("Array.from(document.querySelectorAll('.legendtext'), e => e.textContent)")
    assert rendered == LOSSES
    assert browser.evaluate("document.querySelectorAll('.scatterlayer .trace path.js-line').length") == len(LOSSES)

    # the image panes: titled by label, showing the frames of the last display (also on the HTML page)
    panes = wait_for(lambda: browser.evaluate(
        "Array.from(document.querySelectorAll('.window'), w => [w.querySelector('.bar div.pull-right')?.textContent,"
        " w.querySelector('img')]).filter(([t, img]) => img && img.complete && img.naturalWidth > 0)"
        ".map(([t, img]) => [t, img.src])"), 'the image panes')
    shown = dict(panes)
    saved = {path.name[len('epoch002_'):-len('.png')]: path for path in (trained / 'web' / 'images').glob('epoch002_*')}
    assert sorted(shown) == sorted(saved) and len(saved) == 16  # real, fake, rec and pred frames of A and B
    for label, data_url in shown.items():
        png = io.BytesIO(base64.b64decode(data_url.split(',', 1)[1]))
        assert np.array_equal(pixels(png), pixels(saved[label]))

    # every script, style sheet and font came from the dashboard itself, MathJax included, in the versions of
    # the installed visdom's page (0.2.4: MathJax 2.7.5, 0.3.0: MathJax 3.2.2, which has a startup promise)
    _, version = visdom_assets.visdom_static()
    mathjax = next(p.version for p in visdom_assets.packages_for(version) if p.name == 'mathjax')
    ready = ("window.MathJax && (MathJax.startup ? MathJax.startup.promise.then(() => MathJax.version)"
             " : MathJax.isReady && MathJax.version)")
    assert wait_for(lambda: browser.evaluate(ready, await_promise=True), 'MathJax') == mathjax
    loaded = browser.evaluate("performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])")
    assert len(loaded) > 10 and all(url.startswith(f'http://127.0.0.1:{port}/') for url, _ in loaded), loaded
    assert [entry for entry in loaded if not 200 <= entry[1] < 300] == []  # none missing (404), favicon included
    assert any(f'/js/mathjax/{mathjax}/' in url for url, _ in loaded)
    keep_screenshot(browser.screenshot(), tmp_path / 'dashboard.png')
    assert Image.open(tmp_path / 'dashboard.png').size == (1280, 800)


def test_html_page_shows_the_loss_plot(browser, trained, tmp_path):
    page = trained / 'web' / 'index.html'
    browser.open(page.as_uri())
    plot = f"document.querySelector('img[src=\"{LOSS_PLOT}\"]')"
    size = wait_for(lambda: browser.evaluate(f"(i => i && i.complete && [i.naturalWidth, i.naturalHeight])({plot})"),
                    'the loss plot on the HTML page')
    assert size == [800, 350]
    assert browser.evaluate("document.querySelectorAll('img[src^=\"images/epoch002_\"]').length") >= 10
    keep_screenshot(browser.screenshot(), tmp_path / 'html_page.png')


def test_dashboard_answers_the_pages_favicon_with_no_content(dashboard):
    port, _ = dashboard
    for path in ('/env/favicon.png', '/favicon.ico'):  # the page's link, from /env/<name>; a browser's default
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=30) as response:
            assert response.status == 204 and response.read() == b''
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/env/main', timeout=30) as response:  # visdom's own
        assert response.status == 200 and b'<html' in response.read().lower()


def test_dashboard_is_not_reachable_from_the_network_by_default(dashboard):
    port, _ = dashboard
    # it listens on 127.0.0.1 only; any other address (127.0.0.2 is this machine too) is refused
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.2', port), timeout=5)
    second = subprocess.run([sys.executable, '-m', 'util.dashboard', '--port', str(port)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and second.stderr.count('\n') == 1
    assert f'error: --host 127.0.0.1 --port {port}: cannot listen there: in use' in second.stderr


# -- the HTML page's loss plot -------------------------------------------------------------------------
def test_html_page_gets_a_loss_plot_that_follows_the_losses(tmp_path):
    opt = train_options(tmp_path, '--name', 'plot')
    visualizer = Visualizer(opt)
    visuals = OrderedDict((label, torch.zeros(1, 3, 8, 8)) for label in ('real_A', 'fake_B'))
    page, plot = tmp_path / 'plot' / 'web' / 'index.html', tmp_path / 'plot' / 'web' / LOSS_PLOT

    visualizer.display_current_results(visuals, 1, save_result=True)
    assert not plot.exists() and LOSS_PLOT not in page.read_text()  # no losses yet

    for step in range(1, 5):
        visualizer.plot_current_losses(1, step / 4, OrderedDict(G_A=1.0 / step, D_A=0.5))
    visualizer.display_current_results(visuals, 1, save_result=True)
    assert f'src="{LOSS_PLOT}"' in page.read_text()
    image = pixels(plot)
    assert image.shape == (350, 800, 3)
    colourful = np.ptp(image.astype(int), axis=2) > 60  # the curves; axes, text and grid are grey
    assert colourful.sum() > 500

    first = plot.read_bytes()
    visualizer.plot_current_losses(2, 0.25, OrderedDict(G_A=3.0, D_A=0.1))
    visualizer.display_current_results(visuals, 2, save_result=False)  # a new epoch updates the page
    assert plot.read_bytes() != first

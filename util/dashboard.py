"""The training dashboard: a visdom server that needs no internet.

    python -m util.dashboard                  # http://127.0.0.1:8097, for this machine only
    python -m util.dashboard --port 8098 --env_path ~/visdom_envs

train.py (--display_id 1, the default) sends its losses and images to it. `python -m visdom.server`
downloads its page's JavaScript from CDNs at every start and crashes offline; this server uses the
copies util/visdom_assets.py put into visdom's static/ folder at install time. It listens on
127.0.0.1 unless --host says otherwise: it has no password, so from another machine reach it through
an SSH tunnel (docs/dashboard.md) rather than opening it to the network.
"""
import errno
import logging
import os
import socket
import sys

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import RequestHandler, StaticFileHandler
from visdom.server import app as visdom_app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util import checks, visdom_assets  # noqa: E402
from util.errors import Parser, UserError, run_cli  # noqa: E402

LOOPBACK = ('127.0.0.1', 'localhost', '::1')


class StaticFiles(StaticFileHandler):
    """visdom's page links its per-user CSS as static_url('../user/style.css') (another handler serves it);
    since tornado 6.6 static_url() answers a path outside static/ with 403, and the page would not load."""

    @classmethod
    def get_version(cls, settings, path):
        outside = os.path.normpath(path).startswith('..')
        return None if outside else super().get_version(settings, path)


class NoIcon(RequestHandler):
    """visdom's page links a favicon.png that visdom does not have (0.3.0 answers 404, 0.2.4 sends the page
    itself): answer that there is none, so the browser's console stays clean."""

    def get(self):
        self.set_status(204)


def parse(argv):
    parser = Parser(__file__, description=__doc__.split('\n\n')[0])
    parser.add_argument('--port', type=int, default=8097, help='port to serve on (train.py: --display_port)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on; 0.0.0.0 opens it to every network interface, without a password')
    parser.add_argument('--env_path', default=os.path.join(os.path.expanduser('~'), '.visdom'),
                        help='folder of saved visdom environments (loaded at start, written by the page\'s Save)')
    args = parser.parse_args(argv)
    checks.number('--port', args.port, 1, 2 ** 16 - 1)  # 0 or a larger number would listen on some other port
    checks.writable_folder('--env_path', args.env_path)
    return args


def url(host, port):
    """The address to open: this machine's name when listening on every interface."""
    if host in ('0.0.0.0', '::', ''):
        host = socket.gethostname()
    return f'http://{f"[{host}]" if ":" in host else host}:{port}'


def main(argv=None):
    args = parse(argv)
    static, version = visdom_assets.visdom_static()
    if not visdom_assets.is_installed(static, version):
        raise UserError(f'{static}: visdom\'s web assets are missing; run `python -m util.visdom_assets` '
                        f'once (bash scripts/install.sh does it)')
    try:  # before visdom creates --env_path
        sockets = bind_sockets(args.port, address=args.host)
    except OSError as err:
        reason = 'in use (another dashboard running?)' if err.errno == errno.EADDRINUSE else err.strerror
        raise UserError(f'--host {args.host} --port {args.port}: cannot listen there: {reason}')

    # visdom's own chatter (every socket, every message) is at INFO; keep warnings and errors
    logging.basicConfig(level=logging.WARNING, format='dashboard %(levelname)s: %(message)s')
    # visdom turns on tornado's debug mode, whose autoreload would restart the server, losing every plot,
    # whenever an imported source file changes
    visdom_app.tornado_settings['autoreload'] = False
    visdom_app.tornado_settings['static_handler_class'] = StaticFiles
    application = visdom_app.Application(port=args.port, env_path=args.env_path)
    application.add_handlers(r'.*', [(r'.*/favicon\.(?:png|ico)', NoIcon)])  # checked before visdom's own
    HTTPServer(application, max_buffer_size=1024 ** 3).add_sockets(sockets)  # visdom's limit: big images
    if args.host not in LOOPBACK:
        print(f'warning: listening on {args.host}: anyone who can reach this machine can open the dashboard',
              file=sys.stderr)
    print(f'visdom dashboard at {url(args.host, args.port)} (environments in {args.env_path}); Ctrl+C stops it',
          flush=True)
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        print('dashboard stopped')


if __name__ == '__main__':
    run_cli(main)

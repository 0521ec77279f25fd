"""What a visdom version's page needs, read from its own source: the files its downloader
(visdom/server/build.py, download_scripts) writes into static/, with the URL of each, and the files its
page (static/index.html) loads with static_url(). tests/test_visdom_assets.py checks util/visdom_assets.py's
table against it.

    python tests/visdom_requests.py PACKAGE_DIR > tests/fixtures/visdom-VERSION.json

PACKAGE_DIR is a visdom package folder (the one holding VERSION, server/ and static/), installed or
unpacked from its sdist; the fixtures were made from the sdists of `pip download --no-deps
--ignore-requires-python visdom==VERSION` (py/visdom/), so that every Python checks every version's table.
"""
import ast
import json
import os
import re
import sys


def downloads(build_py):
    """{destination under static/: URL} that download_scripts() fetches."""
    tree = ast.parse(open(build_py).read())
    function = next(node for node in ast.walk(tree)
                    if isinstance(node, ast.FunctionDef) and node.name == 'download_scripts')
    # its URLs are string constants and %-formatting of earlier ones: evaluate every assignment that needs
    # nothing else (those using os, paths or the network fail and are left out)
    names = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = eval(compile(ast.Expression(node.value), build_py, 'eval'),
                                                 {'__builtins__': {}}, dict(names))
            except Exception:
                pass
    wanted = {}
    for url, name in names['ext_files'].items():  # the folder follows the name's ending, as download_scripts does
        folder = 'js' if name.endswith(('.js', '.js.map')) else 'css' if name.endswith('.css') else 'fonts'
        wanted[f'{folder}/{name}'] = url
    mathjax_dir = '/'.join(names['cdnjs_url'].split('/')[-3:])  # 'mathjax/<version>/'
    for path in names['mathjax_path']:
        folder, _, name = path.rpartition('/')
        wanted[f'js/{mathjax_dir}{folder + "/" if folder else ""}{name.split("?")[0]}'] = names['cdnjs_url'] + path
    return wanted


def page(index_html):
    """The static/ paths the page loads with static_url(), in order (one outside static/ is another handler's)."""
    return [path for path in re.findall(r'''static_url\(\s*["']([^"']+)["']\s*\)''', open(index_html).read())
            if not path.startswith('..')]


def requests(package_dir, shipped=None):
    """{'version', 'downloads': {destination: URL}, 'page': [paths], 'shipped': [paths in static/ that visdom
    itself ships]}; shipped defaults to everything in static/ (right for an unpacked sdist)."""
    static = os.path.join(package_dir, 'static')
    if shipped is None:
        shipped = [os.path.relpath(os.path.join(folder, name), static).replace(os.sep, '/')
                   for folder, _, files in os.walk(static) for name in files]
    with open(os.path.join(package_dir, 'VERSION')) as f:
        version = f.read().strip()
    return {'version': version, 'downloads': downloads(os.path.join(package_dir, 'server', 'build.py')),
            'page': page(os.path.join(static, 'index.html')), 'shipped': sorted(shipped)}


if __name__ == '__main__':
    print(json.dumps(requests(sys.argv[1]), indent=1))

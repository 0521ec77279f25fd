"""Put the web assets of visdom's page (JavaScript, CSS, fonts, MathJax) into the installed visdom
package's static/ folder, from npm registry packages, so that its server never downloads anything.

    python -m util.visdom_assets              # fetch them from the npm registry (done by install.sh)
    python -m util.visdom_assets --list       # the package tarballs' URLs, to fetch on another machine
    python -m util.visdom_assets --from DIR   # offline: install from those .tgz files in DIR

visdom fetches these files from CDNs whenever its server starts and crashes without internet; it
fetches none whose file exists once static/version.built holds its version. Each visdom version has
its own set (0.3.0 loads MathJax 3 and newer style sheets under 0.2.4's file names): the installed
version's set is placed, under the names its downloader writes, so `python -m visdom.server` finds
them too. Every tarball is checked against its pinned sha512. When everything is in place already,
this checks a few hundred files and exits in well under a second, without network.
"""
import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import posixpath
import re
import tarfile
import urllib.request
from typing import NamedTuple

from util.errors import Parser, UserError, run_cli

REGISTRY = 'https://registry.npmjs.org'
MANIFEST = 'offline_assets.json'  # written last: the list of what a complete install placed
GLYPHICONS = 'glyphicons-halflings-regular'


class Package(NamedTuple):
    name: str
    version: str
    files: tuple  # (path inside the package, destination under static/); a path ending in '/' is a folder
    integrity: str  # the registry's dist.integrity of the tarball
    skip: str = ''  # regex of paths inside a copied folder to leave out

    @property
    def tarball(self):
        return f'{self.name}-{self.version}.tgz'

    @property
    def url(self):
        return f'{REGISTRY}/{self.name}/-/{self.tarball}'


# What every known visdom version's page loads under the same names and versions
COMMON = (
    Package('jquery', '3.1.1',
            (('dist/jquery.min.js', 'js/jquery.min.js'),),
            'sha512-zuiWRmx65Kd1oFGdWLvAjbsumdOBFvs3r1vuqCyKFF79R7exBHNbiNEJ8LR+xkzgfxqBznMD/4Cv6PHXS6mvEw=='),
    Package('bootstrap', '3.3.7',
            (('dist/js/bootstrap.min.js', 'js/bootstrap.min.js'),
             ('dist/css/bootstrap.min.css', 'css/bootstrap.min.css'),
             *((f'dist/fonts/{GLYPHICONS}.{ext}', f'fonts/{GLYPHICONS}.{ext}')
               for ext in ('eot', 'woff2', 'woff', 'ttf', 'svg')),
             # visdom's downloader keeps the URL's #fragment in this file name
             (f'dist/fonts/{GLYPHICONS}.svg', f'fonts/{GLYPHICONS}.svg#glyphicons_halflingsregular')),
            'sha512-qcFaisBrcBhTFkz1IUnGDYnX6ZWfFzH8zOixUDtHW9Ip+r+7MfMFav2rzy7cIHc7rgIg7xjhWBoo1mS/U26j4g=='),
    Package('react', '16.2.0',
            (('umd/react.production.min.js', 'js/react-react.min.js'),),
            'sha512-ZmIomM7EE1DvPEnSFAHZn9Vs9zJl5A9H7el0EGTE6ZbW9FKe/14IYAlPbC8iH25YarEQxZL+E8VW7Mi7kfQrDQ=='),
    Package('react-dom', '16.2.0',
            (('umd/react-dom.production.min.js', 'js/react-dom.min.js'),),
            'sha512-zpGAdwHVn9K0091d+hr+R0qrjoJ84cIBFL2uU60KvWBPfZ7LPSrfqviTxGHWN0sjPZb2hxWzMexwrvJdKePvjg=='),
    Package('react-modal', '3.1.10',
            (('dist/react-modal.min.js', 'js/react-modal.min.js'),),
            'sha512-7b77AGWCkdg0YOf/qcYIGCpuwbxRwOA8P3UrUovk4grUNv+idOmHovJAx/Dcd3fuwHtgixxVjpcjVG60985MSA=='),
    # plotly's own CDN file plotly-2.11.1.min.js, as an npm package
    Package('plotly.js-dist-min', '2.11.1',
            (('plotly.min.js', 'js/plotly-plotly.min.js'),),
            'sha512-F9WWNht0D3yBLZGHbLoJNfvplXvy+GUPSsA/lCbMuYd/UwzSu6Vmyprxlps9Einw1LDS1hYBrJeioK0lE3ieXA=='),
    Package('sjcl', '1.0.7',
            (('sjcl.js', 'js/sjcl.js'),),
            'sha512-xQbiwKfiAj6vyk44ANJ5RRymALRdRZOuRoKNYkWUU404p/RFXmMaay1Z5vRn30GJjkD+psox4Jd38jZojSuNYA=='),
    Package('layout-bin-packer', '1.4.0',
            (('dist/layout-bin-packer.js', 'js/layout_bin_packer.js'),
             ('dist/layout-bin-packer.js.map', 'js/layout-bin-packer.js.map')),
            'sha512-dQOZnajbOBGIcS9YlzKrkRtMCGa2oEpyf1zGRn93suphSvPclJe54Sbgtb053GJ21DUk84IBzaeQvjn+Gb10fA=='),
    # d3js.org's d3.v3.min.js and d3-selection-multi.v1.js are the last v3 and v1 releases
    Package('d3', '3.5.17',
            (('d3.min.js', 'js/d3.v3.min.js'),),
            'sha512-yFk/2idb8OHPKkbAL8QaOaqENNoMhIaSHZerk3oQsECwkObkCpJyjYwCe+OHiq6UEdhe1m8ZGARRRO3ljFjlKg=='),
    Package('d3-selection-multi', '1.0.1',
            (('build/d3-selection-multi.js', 'js/d3-selection-multi.v1.js'),),
            'sha512-mEnRkJ6A+Otd1LuRPV3az+s/RLDmIEhuz/MnT21O2nPcWNH7wZotdIlRjMA4Wpr+n7AESQ5fD8v1J3nL2Mnw9g=='),
    Package('save-svg-as-png', '1.4.17',
            (('lib/saveSvgAsPng.js', 'js/saveSvgAsPng.js'),),
            'sha512-7QDaqJsVhdFPwviCxkgHiGm9omeaMBe1VKbHySWU6oFB2LtnGCcYS13eVoslUgq6VZC6Tjq/HddBd1K6p2PGpA=='),
    Package('classnames', '2.2.5',
            (('index.js', 'fonts/classnames'),),
            'sha512-DTt3GhOUDKhh4ONwIJW4lmhyotQmV2LjNlGK/J2hkwUcqcbKkCLAdJPtxQnxnlc7SR3f1CEXCyMmc7WLUsWbNA=='),
)


def styles(name, version, integrity):
    """react-resizable's or react-grid-layout's style sheet, under the name every visdom version gives it."""
    return Package(name, version, (('css/styles.css', f'css/{name}-styles.css'),), integrity)


# {visdom version: the packages of its page}; a new version's list is in its visdom/server/build.py
# (download_scripts) and the files its static/index.html loads: tests/test_visdom_assets.py checks both
ASSETS = {
    '0.2.4': COMMON + (
        styles('react-resizable', '1.4.6',
               'sha512-4zLORO51u0/mlDsrVCAA4p266d+3mb2ZMNdiWOotAh/PdnfrRzZhgePmKE08PSQatXVIfMjmyD+Sapay8tmxdQ=='),
        styles('react-grid-layout', '0.16.3',
               'sha512-ytP92EqUjqcFhGzvdeKrK610dQ04GdFwRCWtD6PoeL5wR3liETcFISO7k8RBqnosV86JtXf/DwIfrL0COLs0gg=='),
        # MathJax 2 loads its parts on demand: the whole runtime, without the unminified copy and with the
        # TeX fonts only (16 of the package's 60 MB)
        Package('mathjax', '2.7.5',
                (('', 'js/mathjax/2.7.5/'),),
                'sha512-OzsJNitEHAJB3y4IIlPCAvS0yoXwYjlo2Y4kmm9KQzyIBZt2d8yKRalby3uTRNN4fZQiGL2iMXjpdP1u2Rq2DQ==',
                skip=r'^(unpacked|test|docs)/|^(fonts/HTML-CSS|jax/output/[^/]+/fonts)/(?!TeX/)|/png/'),
    ),
    '0.3.0': COMMON + (
        styles('react-resizable', '3.1.3',
               'sha512-liJBNayhX7qA4tBJiBD321FDhJxgGTJ07uzH5zSORXoE8h7PyEZ8mLqmosST7ppf6C4zUsbd2gzDMmBCfFp9Lw=='),
        styles('react-grid-layout', '2.2.3',
               'sha512-OAEJHBxmfuxQfVtZwRzmsokijGlBgzYIJ7MUlLk/VSa43SaGzu15w5D0P2RDrfX5EvP9POMbL6bFrai/huDzbQ=='),
        # MathJax 3's page loads the combined es5/tex-mml-svg.js, which fetches the TeX extensions, menu and
        # accessibility parts it autoloads from the folders beside it: those, without the other combined
        # files (10 of the package's 24 MB)
        Package('mathjax', '3.2.2',
                (('es5/', 'js/mathjax/3.2.2/es5/'),),
                'sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==',
                skip=r'^es5/(?!tex-mml-svg\.js$)[^/]+\.js$'),
    ),
}


def packages_for(version):
    """The packages visdom `version`'s page needs; a clear error for a version without a table."""
    if version not in ASSETS:
        known = ', '.join(ASSETS)
        raise UserError(f'visdom {version}: its page\'s web assets are not known here (known: visdom {known}); '
                        f'install one of those (pip install visdom==0.3.0; visdom==0.2.4 before Python 3.12), '
                        f'or add its table to util/visdom_assets.py from its visdom/server/build.py')
    return ASSETS[version]


def visdom_static():
    """(the installed visdom package's static/ folder, its version as visdom reads it)."""
    spec = importlib.util.find_spec('visdom')
    if spec is None:
        raise UserError('visdom is not installed: run `bash scripts/install.sh` (or `pip install visdom`) first')
    package = os.path.dirname(spec.origin)
    try:
        with open(os.path.join(package, 'VERSION')) as f:
            version = f.read().strip()
    except FileNotFoundError:  # visdom's __init__ reads this file; fall back to the distribution's metadata
        version = importlib.metadata.version('visdom')
    return os.path.join(package, 'static'), version


def read_manifest(static):
    """What the last complete install placed: {'packages': [name@version], 'files': [paths]}, or {}."""
    try:
        with open(os.path.join(static, MANIFEST)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def is_installed(static, version, packages=None):
    """True when a complete install of these packages (default: visdom `version`'s) is in static/ for it."""
    packages = packages_for(version) if packages is None else packages
    try:
        with open(os.path.join(static, 'version.built')) as f:
            built = f.read().strip()
    except OSError:
        return False
    manifest = read_manifest(static)
    wanted = sorted(f'{p.name}@{p.version}' for p in packages)
    return (built == version and sorted(manifest.get('packages', ())) == wanted
            and all(os.path.isfile(os.path.join(static, path)) for path in manifest.get('files', ())))


def integrity(data):
    """How the registry states a tarball's hash (its dist.integrity)."""
    return 'sha512-' + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(package, source=None):
    """The package's tarball bytes, from the registry or from the folder source; checked against its sha512."""
    try:
        if source is None:
            with urllib.request.urlopen(package.url, timeout=120) as response:
                data = response.read()
        else:
            with open(os.path.join(source, package.tarball), 'rb') as f:
                data = f.read()
    except OSError as err:
        if source is None:
            raise UserError(f'{package.url}: cannot fetch it ({err}); without access to {REGISTRY}, download the '
                            f'files that `python -m util.visdom_assets --list` names elsewhere and pass their '
                            f'folder with --from')
        raise UserError(f'{os.path.join(source, package.tarball)}: cannot read it ({err.strerror}); --from needs '
                        f'every file that --list names')
    if integrity(data) != package.integrity:
        raise UserError(f'{package.tarball}: its sha512 is not the registry\'s for {package.name}@{package.version}; '
                        f'fetch it again')
    return data


def placements(package, paths):
    """{destination under static/: path in the package} for a package holding these paths."""
    wanted = {}
    for source, destination in package.files:
        if source and not source.endswith('/'):
            wanted[destination] = source
        else:
            wanted.update((destination + path[len(source):], path) for path in paths
                          if path.startswith(source) and not (package.skip and re.search(package.skip, path)))
    wanted.update((f'licenses/{package.name}-{package.version}-{path}', path) for path in paths
                  if re.fullmatch(r'LICEN[CS]E(\.\w+)?', path, re.IGNORECASE))
    return wanted


def unpack(package, data, static):
    """Write the package's files (and its licence, under licenses/) into static/; returns their paths there."""
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as tar:
        # npm tarballs hold one top folder (usually package/)
        contents = {m.name.split('/', 1)[1]: m for m in tar.getmembers() if m.isfile() and '/' in m.name}
        wanted = placements(package, contents)
        for destination, source in wanted.items():
            if source not in contents:
                raise UserError(f'{package.tarball}: has no {source}; is it {package.name}@{package.version}?')
            if posixpath.normpath(destination).startswith('..'):
                raise UserError(f'{package.tarball}: {source} would be written outside static/')
            target = os.path.join(static, destination)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'wb') as f:
                f.write(tar.extractfile(contents[source]).read())
    return sorted(wanted)


def install(static, version, packages=None, source=None):
    """Place every package's files (default: visdom `version`'s) in static/ unless they are there already, and
    remove what an earlier install placed that this one does not (another visdom version's); True when it had to."""
    packages = packages_for(version) if packages is None else packages
    if is_installed(static, version, packages):
        return False
    files = []
    for package in packages:
        files += unpack(package, fetch(package, source), static)
    for stale in set(read_manifest(static).get('files', ())) - set(files):
        if os.path.isfile(os.path.join(static, stale)):
            os.remove(os.path.join(static, stale))
    with open(os.path.join(static, MANIFEST), 'w') as f:
        json.dump({'packages': [f'{p.name}@{p.version}' for p in packages], 'files': files}, f, indent=0)
    with open(os.path.join(static, 'version.built'), 'w') as f:
        f.write(version)
    return True


def main(argv=None):
    parser = Parser(__file__, description=__doc__.split('\n\n')[0])
    parser.add_argument('--list', action='store_true', help='print the tarball URLs and exit')
    parser.add_argument('--from', dest='source', help='folder holding the tarballs (offline install)')
    parser.add_argument('--static', help="target folder (default: the installed visdom's static/)")
    parser.add_argument('--visdom_version', help=f'the assets of this visdom version (default: the installed '
                        f'one\'s; known: {", ".join(ASSETS)}), e.g. to --list them for another machine')
    args = parser.parse_args(argv)
    static, version = (None, None) if args.list and args.visdom_version else visdom_static()
    version = args.visdom_version or version
    packages = packages_for(version)
    if args.list:
        print('\n'.join(p.url for p in packages))
        return
    static = args.static or static
    if install(static, version, packages, source=args.source):
        print(f'visdom assets: {len(packages)} packages for visdom {version} placed in {static}')
    else:
        print(f'visdom assets: visdom {version}\'s already in {static}')


if __name__ == '__main__':
    run_cli(main)

"""util/visdom_assets.py: each known visdom version's table names every file its page and downloader want,
at the versions they want; the assets land where visdom looks, once, checked; the installed visdom then
downloads nothing. (tests/test_dashboard.py loads the page in a browser.)"""
import base64
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from conftest import ROOT
from util import visdom_assets
from util.errors import UserError
from visdom_requests import requests

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')  # made by tests/visdom_requests.py from visdom's sdists


def fixture(version):
    with open(os.path.join(FIXTURES, f'visdom-{version}.json')) as f:
        return json.load(f)


def placed_by(packages, destination):
    """The package of the table that puts a file at destination under static/, or None."""
    for package in packages:
        for source, target in package.files:
            if target == destination:
                return package
            if target.endswith('/') and destination.startswith(target):  # a copied folder, less what it skips
                inside = source + destination[len(target):]
                if not (package.skip and re.search(package.skip, inside)):
                    return package
    return None


def pinned_version(url):
    """(npm package, version) that a downloader URL names, or None where it names no version (d3js.org)."""
    for pattern, name in ((r'unpkg\.com/([^@/]+)@([^/]+)', None), (r'cdn\.plot\.ly/plotly-([\d.]+)\.min\.js',
                          'plotly.js-dist-min'), (r'/libs/mathjax/([\d.]+)/', 'mathjax')):
        if match := re.search(pattern, url):
            return (name, *match.groups()) if name else match.groups()
    assert 'd3js.org' in url, f'{url}: a source this test does not know'
    return None


@pytest.mark.parametrize('version', list(visdom_assets.ASSETS))
def test_asset_table_has_every_file_the_version_wants_at_its_version(version):
    wants, packages = fixture(version), visdom_assets.ASSETS[version]
    assert wants['version'] == version
    for destination, url in wants['downloads'].items():
        package = placed_by(packages, destination)
        assert package, f'visdom {version} downloads {destination} ({url}): not in the table'
        if pinned := pinned_version(url):
            assert (package.name, package.version) == pinned, f'{destination}: visdom {version} wants {url}'
    for path in wants['page']:  # what the page loads: shipped with visdom or placed from the table
        assert path in wants['shipped'] or placed_by(packages, path), f'visdom {version}\'s page loads {path}'
    # the page loads MathJax from where the table puts it (0.3.0 needs MathJax 3, 0.2.4 MathJax 2)
    mathjax = next(p for p in packages if p.name == 'mathjax')
    assert any(path.startswith(f'js/mathjax/{mathjax.version}/') for path in wants['page'])


def test_fixture_of_the_installed_visdom_is_what_its_source_says():
    """The fixtures stand for visdom's own source: on a machine with that version installed (0.2.4 up to
    Python 3.11, 0.3.0 from 3.12), the installed package's build.py and index.html must say the same."""
    static, version = visdom_assets.visdom_static()
    shipped = [str(f)[len('visdom/static/'):] for f in importlib.metadata.files('visdom')
               if str(f).startswith('visdom/static/')]
    assert requests(os.path.dirname(static), shipped) == fixture(version)


def test_unknown_visdom_version_gets_one_clear_line():
    result = subprocess.run([sys.executable, '-m', 'util.visdom_assets', '--list', '--visdom_version', '0.1.9'],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
    assert "error: visdom 0.1.9: its page's web assets are not known here (known: visdom 0.2.4, 0.3.0)" \
        in result.stderr
    with pytest.raises(UserError, match=r'visdom 0\.1\.9: .*\(known: visdom 0\.2\.4, 0\.3\.0\)'):
        visdom_assets.is_installed('/nonexistent', '0.1.9')


def test_installed_visdom_downloads_nothing(monkeypatch):
    """After install.sh, even `python -m visdom.server` finds every file its downloader wants."""
    static, version = visdom_assets.visdom_static()
    assert visdom_assets.is_installed(static, version), 'run `python -m util.visdom_assets` (install.sh does)'
    import requests as http
    from urllib.request import OpenerDirector
    from visdom.server.build import download_scripts

    def no_network(*args, **kwargs):
        raise AssertionError(f'visdom tried to download {args[1:2] or args[:1]}')

    monkeypatch.setattr(OpenerDirector, 'open', no_network)
    monkeypatch.setattr(http, 'get', no_network)  # visdom fetches MathJax with requests
    download_scripts()
    with open(os.path.join(static, 'version.built')) as f:  # it would have removed a stale one
        assert f.read() == version


# -- where the assets go, with made-up packages ------------------------------------------------------
def fake_package(folder, name, contents, version='1.0.0', **kwargs):
    """A .tgz like the registry's (everything under package/) and its Package entry."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        for path, text in contents.items():
            info = tarfile.TarInfo(f'package/{path}')
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    data = buffer.getvalue()
    (folder / f'{name}-{version}.tgz').write_bytes(data)
    return visdom_assets.Package(name, version, integrity=visdom_assets.integrity(data), **kwargs)


def test_assets_are_placed_where_visdom_looks_and_only_once(tmp_path):
    source, static = tmp_path / 'tarballs', tmp_path / 'static'
    source.mkdir()
    packages = (
        fake_package(source, 'lib', {'dist/lib.min.js': 'lib();', 'LICENSE': 'MIT'},
                     files=(('dist/lib.min.js', 'js/lib-renamed.min.js'), ('dist/lib.min.js', 'fonts/lib'))),
        fake_package(source, 'tree', {'a.js': 'a', 'sub/b.js': 'b', 'unpacked/a.js': 'big a'},
                     files=(('', 'js/tree/1.0/'),), skip=r'^unpacked/'),
    )
    assert visdom_assets.install(str(static), '9.9', packages, source=str(source))
    assert (static / 'js' / 'lib-renamed.min.js').read_text() == 'lib();'
    assert (static / 'fonts' / 'lib').read_text() == 'lib();'
    assert (static / 'js' / 'tree' / '1.0' / 'sub' / 'b.js').read_text() == 'b'
    assert not (static / 'js' / 'tree' / '1.0' / 'unpacked').exists()
    assert (static / 'licenses' / 'lib-1.0.0-LICENSE').read_text() == 'MIT'
    assert (static / 'version.built').read_text() == '9.9'  # visdom then downloads no file that exists

    shutil.rmtree(source)  # done already: needs neither the network nor the tarballs
    assert not visdom_assets.install(str(static), '9.9', packages, source=str(source))
    (static / 'js' / 'tree' / '1.0' / 'a.js').unlink()
    with pytest.raises(UserError, match='lib-1.0.0.tgz: cannot read it'):  # a missing file makes it install again
        visdom_assets.install(str(static), '9.9', packages, source=str(source))


def test_another_visdom_version_gets_its_own_assets_and_loses_the_old_ones(tmp_path):
    """pip upgrading visdom 0.2.4 to 0.3.0 leaves our files in static/: the new set replaces them, same names
    with the new contents, the old version's MathJax folder gone."""
    static = tmp_path / 'static'
    old = (fake_package(tmp_path, 'style', {'css/styles.css': 'old'}, files=(('css/styles.css', 'css/s.css'),)),
           fake_package(tmp_path, 'mathjax', {'MathJax.js': '2'}, '2.0.0', files=(('', 'js/mathjax/2.0.0/'),)))
    new = (fake_package(tmp_path, 'style', {'css/styles.css': 'new'}, '3.0.0',
                        files=(('css/styles.css', 'css/s.css'),)),
           fake_package(tmp_path, 'mathjax', {'es5/tex.js': '3'}, '3.0.0', files=(('es5/', 'js/mathjax/3.0.0/es5/'),)))
    assert visdom_assets.install(str(static), '0.2', old, source=str(tmp_path))
    assert not visdom_assets.is_installed(str(static), '0.3', new)
    assert visdom_assets.install(str(static), '0.3', new, source=str(tmp_path))
    assert (static / 'css' / 's.css').read_text() == 'new'
    assert (static / 'js' / 'mathjax' / '3.0.0' / 'es5' / 'tex.js').read_text() == '3'
    assert not (static / 'js' / 'mathjax' / '2.0.0' / 'MathJax.js').exists()
    assert (static / 'version.built').read_text() == '0.3'


def test_assets_must_match_their_pinned_hash_and_contents(tmp_path):
    good = fake_package(tmp_path, 'lib', {'lib.js': 'x'}, files=(('lib.js', 'js/lib.js'),))
    tampered = good._replace(integrity='sha512-' + base64.b64encode(bytes(64)).decode())
    with pytest.raises(UserError, match="lib-1.0.0.tgz: its sha512 is not the registry's"):
        visdom_assets.install(str(tmp_path / 'static'), '1', (tampered,), source=str(tmp_path))
    wrong_path = good._replace(files=(('dist/lib.js', 'js/lib.js'),))
    with pytest.raises(UserError, match='lib-1.0.0.tgz: has no dist/lib.js'):
        visdom_assets.install(str(tmp_path / 'static'), '1', (wrong_path,), source=str(tmp_path))

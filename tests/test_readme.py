"""README.md and docs/: every relative link reaches a file, every #anchor a heading, and the README stays a
short guide holding the two commands of a fresh machine."""
import glob
import os
import re
from urllib.parse import unquote

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')
PAGES = [README] + sorted(glob.glob(os.path.join(ROOT, 'docs', '**', '*.md'), recursive=True))

FENCE = re.compile(r'^ {0,3}(```|~~~)')
INLINE_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)')
REFERENCE_LINK = re.compile(r'^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$')
HTML_LINK = re.compile(r'\b(?:href|src)\s*=\s*"([^"]*)"')
HEADING = re.compile(r'^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$')


def prose_lines(text):
    """The lines outside fenced code blocks, with inline code spans blanked (links in code are not links)."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield re.sub(r'`+[^`]*`+', '``', line)


def slug(heading):
    """GitHub's anchor for a heading: its rendered text, lowercased, punctuation but '-' and '_' dropped,
    each space a hyphen."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # a link renders as its text
    text = re.sub(r'`([^`]*)`', r'\1', text)  # a code span as its content
    text = re.sub(r'\*+', '', text)  # emphasis marks
    text = re.sub(r'<[^>]+>', '', text)  # inline HTML tags
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def anchors(path):
    """Every anchor of a markdown file, duplicates numbered -1, -2, ... in order, as GitHub does."""
    seen, result = {}, set()
    with open(path, encoding='utf-8') as f:
        text = f.read()
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f'{base}-{count}')
    result.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', text))  # explicit HTML anchors
    return result


def links(path):
    """The relative link targets of a markdown file (no scheme, no mailto), as written."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    found = []
    for line in prose_lines(text):
        found += INLINE_LINK.findall(line) + HTML_LINK.findall(line)
        match = REFERENCE_LINK.match(line)
        if match:
            found.append(match.group(1))
    return [t for t in found if t and not re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', t)]


def broken_links(path):
    """'target: why' for each relative link of `path` that leads to no file or to no heading."""
    broken = []
    for target in links(path):
        file_part, _, anchor = target.partition('#')
        dest = os.path.normpath(os.path.join(os.path.dirname(path), unquote(file_part))) if file_part else path
        if not os.path.exists(dest):
            broken.append(f'{target}: no file {os.path.relpath(dest, ROOT)}')
        elif anchor and dest.endswith('.md') and unquote(anchor).lower() not in anchors(dest):
            broken.append(f'{target}: no heading with anchor #{anchor} in {os.path.relpath(dest, ROOT)}')
    return broken


@pytest.mark.parametrize('page', PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_and_anchors_resolve(page):
    assert broken_links(page) == []


def test_readme_is_a_short_guide_with_the_two_commands():
    with open(README, encoding='utf-8') as f:
        text = f.read()
    lines = len(text.splitlines())
    assert lines <= 250, f'README.md has {lines} lines: move details to docs/'
    assert 'bash scripts/demo.sh' in text  # the main job, end to end on a fresh machine
    assert 'bash scripts/run_tests.sh' in text  # the test command, which .ci/run calls


def test_slugs_follow_githubs_rules(tmp_path):
    assert slug('Resume') == 'resume'
    assert slug('Train and test (the authors\' commands)') == 'train-and-test-the-authors-commands'
    assert slug('The fourth model: Unsupervised Recycle-GAN (`--model unsup_recycle_gan`)') == \
        'the-fourth-model-unsupervised-recycle-gan---model-unsup_recycle_gan'
    assert slug('Is decoding the bottleneck? No') == 'is-decoding-the-bottleneck-no'
    page = tmp_path / 'page.md'
    page.write_text('# Speed\n\n## Speed\n\n```\n# not a heading\n```\n## Speed\n')
    assert anchors(str(page)) == {'speed', 'speed-1', 'speed-2'}


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / 'other.md').write_text('## A heading\n')
    page = tmp_path / 'page.md'
    page.write_text('# Top\n[ok](other.md#a-heading) [here](#top) [web](https://example.com/x.md#nowhere)\n'
                    '`[in code](missing.md)`\n\n```\n[in a block](missing.md)\n```\n'
                    '[gone](missing.md) [no anchor](other.md#b-heading) [no local](#bottom)\n')
    rel = lambda name: os.path.relpath(tmp_path / name, ROOT)  # noqa: E731
    assert broken_links(str(page)) == [f'missing.md: no file {rel("missing.md")}',
                                       f'other.md#b-heading: no heading with anchor #b-heading in {rel("other.md")}',
                                       f'#bottom: no heading with anchor #bottom in {rel("page.md")}']

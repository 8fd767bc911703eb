"""`seqkit show`'s page in headless Chromium: each view shows the text with the colours its
script sets, a screenshot of it is not blank, and the page raises no error. Chromium (Debian's
package) is installed by .ci/run; without it these tests fail in CI and skip elsewhere."""
import re
import struct
import subprocess
import zlib

import numpy as np
import pytest
from browser import CHROMIUM, FLAGS, TIMEOUT, page_errors, require_chromium
from click.testing import CliRunner

from seqkit.cli.showing import show

VIEWS = {"unit": "unit", "unit=0,h,3": "unit", "unit=0,c,5": "unit", "surprise": "surprise",
         "features": "features"}


@pytest.fixture(scope="module", autouse=True)
def chromium():
    return require_chromium()


@pytest.fixture(scope="module", params=["char", "word"])
def built(request, tmp_path_factory, show_runs, show_corpus):
    """(page path, token count) for an LSTM run of each level (its h and c: the unit=0,c,5 view)."""
    run = show_runs({"char": "char", "word": "word-lstm"}[request.param])
    page = tmp_path_factory.mktemp(request.param) / "page.html"
    result = CliRunner().invoke(show, [str(run), str(show_corpus), "-o", str(page)])
    assert result.exit_code == 0, result.output
    count = len(re.findall(r"<span>", page.read_text()))
    return page, count


def browse(*arguments, profile):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           *arguments], capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_colours_every_token(built, view, tmp_path):
    page, count = built
    done = browse("--virtual-time-budget=5000", "--dump-dom", f"{page.as_uri()}#{view}", profile=tmp_path / "p")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert f'data-view="{VIEWS[view]}"' in dom and 'data-ready="true"' in dom
    assert re.search(r'<div id="errors"></div>', dom), "the page reported an error"
    assert not page_errors(done.stderr), page_errors(done.stderr)
    text = re.search(r'<div id="text">(.*?)</div>', dom, re.S).group(1)
    colours = re.findall(r'<span style="background-color: (rgb\([^)]*\));?">', text)
    assert len(colours) == count, "every token's span has its background set"
    if view != "features":  # a feature may be constant in so short a text
        assert len(set(colours)) > 3, "the colours vary with the tokens"
    assert "First Citizen" in re.sub(r"<[^>]+>", "", text)
    if view == "features":
        assert re.search(r'<div id="ranking" style="display: block;">.*<li data-unit="0,[hc],\d+">', dom, re.S)
    if view.startswith("unit="):
        layer, state, unit = view[5:].split(",")
        controls = re.search(r'<div id="controls">(.*?)</div>', dom, re.S).group(1)
        assert re.findall(r'<option value="([^"]+)" selected="">', controls) == [layer, state, unit]


def png_pixels(path):
    """The RGB(A) pixels of a non-interlaced 8-bit PNG (Chromium's screenshots), as an array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), np.int32)
    previous = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        current = np.zeros(stride, np.int32)
        for x in range(stride):
            a = current[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 0:
                value = line[x]
            elif kind == 1:
                value = line[x] + a
            elif kind == 2:
                value = line[x] + b
            elif kind == 3:
                value = line[x] + (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                value = line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)
            current[x] = value & 255
        out[y] = current
        previous = current
    return out.reshape(height, width, channels)


@pytest.mark.parametrize("view", ["unit", "surprise", "features"])
def test_a_screenshot_of_each_view_is_not_blank(built, view, tmp_path):
    page, _ = built
    shot = tmp_path / f"{view}.png"
    done = browse("--virtual-time-budget=5000", "--hide-scrollbars", f"--screenshot={shot}", "--window-size=400,300",
                  f"{page.as_uri()}#{view}", profile=tmp_path / "p")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = png_pixels(shot)[..., :3]
    assert pixels.shape[:2] == (300, 400)
    assert pixels.var() > 0
    colours = {tuple(p) for p in pixels[::3, ::3].reshape(-1, 3)}
    assert len(colours) > 10, "more than a few flat colours: text and coloured tokens"
    if view != "features":  # tinted backgrounds: pixels far from grey
        assert (np.ptp(pixels.astype(int), axis=2) > 40).any()


def test_an_error_in_the_page_would_be_seen(built, tmp_path):
    """The checks above would catch an error: one thrown and one logged show in #errors."""
    page, _ = built
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace('window.addEventListener("hashchange", parse);',
                                               'console.error("logged"); window.addEventListener("hashchange", parse); '
                                               'null.x;'))
    done = browse("--virtual-time-budget=5000", "--dump-dom", broken.as_uri(), profile=tmp_path / "p")
    errors = re.search(r'<div id="errors">(.*?)</div>', done.stdout, re.S).group(1)
    assert "logged" in errors and "TypeError" in errors
    assert page_errors(done.stderr)

"""README's examples run as tests. A ```python block whose fence follows a line `<!-- test -->`
runs, on its own, in a fresh namespace and a temporary directory; `<!-- test: EXPRESSION -->`
also evaluates EXPRESSION in that namespace afterwards, and it must be true (a check the reader
need not see, such as `accuracy > 0.9`). The HTML comment does not show on GitHub or PyPI.
SEQKIT_README=PATH runs another file's blocks instead (a section being written)."""
import linecache
import os
import re
from pathlib import Path

import pytest

README = Path(os.environ.get("SEQKIT_README") or Path(__file__).resolve().parents[1] / "README.md")
MARKED = re.compile(r"^<!-- test(?::(?P<check>.*?))? -->\n```python\n(?P<code>.*?)^```$", re.S | re.M)


def marked_blocks(text):
    """(line of the block's first code line, check or None, code) for every marked block."""
    return [(text.count("\n", 0, m.start("code")) + 1, (m["check"] or "").strip() or None, m["code"])
            for m in MARKED.finditer(text)]


BLOCKS = marked_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_its_runnable_examples():
    """The layers' section has two: the LSTM trained on numpy sequences and the streaming GRU."""
    assert len(BLOCKS) >= 2, f"{README} has {len(BLOCKS)} blocks marked <!-- test -->, expected at least 2"


def test_the_marker_convention():
    text = "<!-- test: x == 2 -->\n```python\nx = 2\n```\n\n```python\nnot = marked\n```\n<!-- test -->\n```python\nassert 1\n```\n"
    assert marked_blocks(text) == [(3, "x == 2", "x = 2\n"), (11, None, "assert 1\n")]


@pytest.mark.parametrize("line, check, code", BLOCKS, ids=[f"{README.name}:{line}" for line, _, _ in BLOCKS])
def test_example_runs(line, check, code, tmp_path, monkeypatch):
    assert check or re.search(r"^\s*assert\b", code, re.M), \
        f"the block at {README.name}:{line} checks nothing: add an assert, or <!-- test: EXPRESSION -->"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    # A traceback names the block ("README.md, the example at line 836", line numbers within it)
    # and, through linecache, shows its lines.
    filename = f"{README}, the example at line {line}"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), namespace)
    if check:
        assert eval(check, namespace), f"{README.name}:{line}: {check} is false after the example"

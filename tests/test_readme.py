"""The examples in README.md and docs/*.md run as tests. A ```python block whose fence follows a
line `<!-- test -->` runs, on its own, in a fresh namespace and a temporary directory;
`<!-- test: EXPRESSION -->` also evaluates EXPRESSION in that namespace afterwards, and it must
be true (a check the reader need not see, such as `accuracy > 0.9`). The HTML comment does not
show on GitHub or PyPI. A test's id names the file and the block's first line
(`docs/python.md:231`). SEQKIT_README=PATH runs another file's blocks instead (a section being
written)."""
import linecache
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRAFT = os.environ.get("SEQKIT_README")
DOCUMENTS = [Path(DRAFT).resolve()] if DRAFT else [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Marked blocks in README.md and docs/ together, at least: moving an example between pages keeps
# it, and losing one fails here. Raise it when you add one.
FEWEST = 8
MARKED = re.compile(r"^<!-- test(?::(?P<check>.*?))? -->\n```python\n(?P<code>.*?)^```$", re.S | re.M)


def marked_blocks(text):
    """(line of the block's first code line, check or None, code) for every marked block."""
    return [(text.count("\n", 0, m.start("code")) + 1, (m["check"] or "").strip() or None, m["code"])
            for m in MARKED.finditer(text)]


def shown(path):
    """How a test names a document: docs/python.md inside the checkout, the path itself outside."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


BLOCKS = [(path, line, check, code) for path in DOCUMENTS
          for line, check, code in marked_blocks(path.read_text(encoding="utf-8"))]


@pytest.mark.skipif(bool(DRAFT), reason="SEQKIT_README runs one file's blocks")
def test_the_docs_keep_their_runnable_examples():
    """README.md's cell example, and in docs/: the error types, the cell and layer examples (the
    LSTM trained on numpy sequences, the streaming GRU) and a cell found by its name."""
    assert len(BLOCKS) >= FEWEST, (f"README.md and docs/*.md have {len(BLOCKS)} blocks marked <!-- test -->, "
                                   f"expected at least {FEWEST}")


def test_the_marker_convention():
    text = ("<!-- test: x == 2 -->\n```python\nx = 2\n```\n\n"
            "```python\nnot = marked\n```\n"
            "<!-- test -->\n```python\nassert 1\n```\n")
    assert marked_blocks(text) == [(3, "x == 2", "x = 2\n"), (11, None, "assert 1\n")]


@pytest.mark.parametrize("path, line, check, code", BLOCKS, ids=[f"{shown(path)}:{line}" for path, line, _, _ in BLOCKS])
def test_example_runs(path, line, check, code, tmp_path, monkeypatch):
    assert check or re.search(r"^\s*assert\b", code, re.M), \
        f"the block at {shown(path)}:{line} checks nothing: add an assert, or <!-- test: EXPRESSION -->"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    # A traceback names the block ("docs/python.md, the example at line 231", line numbers within
    # it) and, through linecache, shows its lines.
    filename = f"{path}, the example at line {line}"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), namespace)
    if check:
        assert eval(check, namespace), f"{shown(path)}:{line}: {check} is false after the example"

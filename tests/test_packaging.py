"""What a user gets from `pip install .`: the seqkit command, the shipped corpus, no stray
top-level modules, a README whose example runs and whose test command CI runs."""
import hashlib
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import seqkit
from seqkit.corpora import path as corpus_path

ROOT = Path(__file__).resolve().parent.parent
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_console_script_is_installed_and_runs():
    """The installed command's --version says the version, and nothing else."""
    script = Path(sys.executable).parent / "seqkit"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout == f"seqkit, version {seqkit.__version__}\n" and out.stderr == ""


def test_shakespeare_corpus_ships_with_the_package():
    data = corpus_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == TINY_SHAKESPEARE_SHA256


def test_cli_and_corpora_install_inside_the_package():
    """The installed RECORD (an egg-info in a source checkout has none, and is skipped) puts
    cli/ and corpora/ under seqkit/, never at the top of site-packages."""
    records = [d.read_text("RECORD") for d in importlib.metadata.distributions(name="seqkit")]
    records = [r for r in records if r]
    assert records, "seqkit is not installed"
    for record in records:
        paths = [line.split(",")[0] for line in record.splitlines()]
        assert not [p for p in paths if p.startswith(("cli/", "cli.py", "corpora/"))]
        if "seqkit/__init__.py" in paths:  # a regular install, not an editable one
            assert {"seqkit/cli/main.py", "seqkit/corpora/tinyshakespeare.txt", "seqkit/generation/show.html",
                    "seqkit/generation/page.html"} <= set(paths)


def readme_code_blocks(language):
    """The fenced blocks of README.md tagged `language` ("" for untagged ones), fences paired
    in order whatever their tags."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", (ROOT / "README.md").read_text(), re.S | re.M)
    return [body for tag, body in blocks if tag == language]


def test_readme_cell_example_runs():
    section = (ROOT / "README.md").read_text().split("## Use the cells in your code")[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["y"].shape == (20, 4, 32)
    assert namespace["dx"].shape == (20, 4, 8)


def test_ci_runs_the_readme_test_command():
    commands = [block.strip() for block in readme_code_blocks("") if "pytest" in block]
    assert len(commands) == 1
    assert commands[0] in (ROOT / ".ci" / "run").read_text().splitlines()

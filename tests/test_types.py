"""The public API's type hints hold: mypy checks the package (py.typed marks it typed)."""
import subprocess
import sys
from pathlib import Path

import seqkit

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_is_marked_typed():
    assert (Path(seqkit.__file__).parent / "py.typed").exists()


def test_mypy_finds_no_error_in_the_package():
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "seqkit"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

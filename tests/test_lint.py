"""The code keeps one format: ruff (pyflakes, pycodestyle, import order, a few bug patterns; its
configuration in pyproject.toml) finds nothing in the package, the commands, the tests or the
benchmarks."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "seqkit", "cli", "tests", "bench"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

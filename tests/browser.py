"""Headless Chromium for the tests of seqkit's pages (seqkit show's, seqkit export's .html):
the browser, its flags, and the lines of its log that report an error from a page's script.
Chromium (Debian's package) is installed by .ci/run; without it these tests fail in CI and skip
elsewhere (require_chromium)."""
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--allow-file-access-from-files"]
TIMEOUT = 120


def require_chromium():
    """Chromium's path; a failure in CI without it, a skip elsewhere."""
    if CHROMIUM is None:
        reason = "chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return CHROMIUM


def page_errors(stderr):
    """Lines of Chromium's log that report an error from the page's script."""
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or ("CONSOLE" in line and ("error" in line.lower()))]

"""A corpus of 200 MB (the shipped one repeated) is read, tokenized and trained on for a few
steps in less than 3x its size of memory. Slow (seconds, 200 MB of disk): -m "not slow" skips it."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqkit.checkpoint import load_arrays
from seqkit.corpora import path as corpus_path

SEQKIT = str(Path(sys.executable).parent / "seqkit")
CORPUS_BYTES = 200_000_000
MAX_PEAK_PER_CORPUS_BYTE = 3


def peak_rss_bytes(usage):
    """ru_maxrss in bytes: kilobytes on Linux, bytes on macOS."""
    return usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "wait4"), reason="peak memory of one child needs os.wait4")
def test_a_200_mb_corpus_trains_in_under_three_times_its_size_of_memory(tmp_path):
    piece = corpus_path().read_bytes()
    corpus = tmp_path / "big.txt"
    with open(corpus, "wb") as file:
        for _ in range(-(-CORPUS_BYTES // len(piece))):
            file.write(piece)
    size = corpus.stat().st_size
    run, log = tmp_path / "run", tmp_path / "log"
    try:
        with open(log, "wb") as stderr:
            process = subprocess.Popen([SEQKIT, "train", str(corpus), "-o", str(run), "--steps", "3",
                                        "--val-fraction", "0.0001", "--sample-length", "0"],
                                       stdout=subprocess.DEVNULL, stderr=stderr)
            _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not other tests'
            process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        corpus.unlink()
    assert process.returncode == 0, log.read_text()
    arrays, meta = load_arrays(run / "latest.npz")
    assert meta["step"] == 3 and all(np.isfinite(a).all() for a in arrays.values())
    peak = peak_rss_bytes(usage)
    print(f"peak RSS {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB corpus ({peak / size:.2f}x)")
    assert peak < MAX_PEAK_PER_CORPUS_BYTE * size, f"{peak / size:.2f}x the corpus"

"""A corpus of 200 MB (the shipped one repeated) is read, tokenized and trained on for a few
steps in less than 3x its size of memory. Slow (seconds, 200 MB of disk): -m "not slow" skips it."""
import subprocess
import sys

import numpy as np
import pytest

from seqkit.corpora import path as corpus_path
from seqkit.runs.checkpoint import load_arrays

CORPUS_BYTES = 200_000_000
MAX_PEAK_PER_CORPUS_BYTE = 3
# seqkit train run in a fresh interpreter that then prints its peak resident set (VmHWM, kB).
# Not ru_maxrss: a child inherits its parent's (pytest's) peak through fork, even across exec.
TRAIN_AND_REPORT_PEAK = """
import sys
from seqkit.cli.main import main
try:
    main(["train", *sys.argv[1:]], prog_name="seqkit")
except SystemExit as done:
    status = done.code
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(peak, flush=True)
sys.exit(status)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak from /proc/self/status")
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
            process = subprocess.run([sys.executable, "-c", TRAIN_AND_REPORT_PEAK, str(corpus), "-o", str(run),
                                      "--steps", "3", "--val-fraction", "0.0001", "--sample-length", "0"],
                                     stdout=subprocess.PIPE, stderr=stderr, text=True,
                                     cwd=tmp_path)  # not the checkout, whose seqkit/ would shadow the installed one
    finally:
        corpus.unlink()
    assert process.returncode == 0, log.read_text()
    arrays, meta = load_arrays(run / "latest.npz")
    assert meta["step"] == 3 and all(np.isfinite(a).all() for a in arrays.values())
    peak = 1024 * int(process.stdout.split()[-1])
    print(f"peak RSS {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB corpus ({peak / size:.2f}x)")
    assert peak < MAX_PEAK_PER_CORPUS_BYTE * size, f"{peak / size:.2f}x the corpus"

"""Cold start: seconds from invoking `seqkit sample` to its first character on stdout, with
an empty Numba cache (every kernel compiled) and then with the cache that run filled.

    python bench/cold_start.py        # in an environment where seqkit is installed

The model is the default one (a 2x256 LSTM, char level), trained for a few steps on the
shipped corpus into a temporary directory; only the sampling is timed.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEQKIT = str(Path(sys.executable).with_name("seqkit"))


def seconds_to_first_character(run, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    start = time.perf_counter()
    process = subprocess.Popen([SEQKIT, "sample", run, "--length", "200", "--seed", "1"],
                               stdout=subprocess.PIPE, env=env)
    first = process.stdout.read(1)
    elapsed = time.perf_counter() - start
    process.stdout.read()
    if process.wait() != 0 or not first:
        raise RuntimeError("seqkit sample failed")
    return elapsed


def main():
    with tempfile.TemporaryDirectory() as tmp:
        run, train_cache, cache = f"{tmp}/run", f"{tmp}/train-cache", f"{tmp}/cache"
        subprocess.run([SEQKIT, "train", "--steps", "3", "-o", run], check=True, capture_output=True,
                       env=dict(os.environ, NUMBA_CACHE_DIR=train_cache))
        cold = seconds_to_first_character(run, cache)
        warm = sorted(seconds_to_first_character(run, cache) for _ in range(5))
        print(f"seqkit sample, to the first character: {cold:.2f} s with an empty Numba cache, "
              f"{warm[2]:.2f} s (median of 5) with a filled one")


if __name__ == "__main__":
    main()

"""The fuzzing suite's long soak: tens of thousands of damaged run files, .safetensors files and
corpora (tests/fuzzing.py's mutations) fed to every reader; prints how many cases ran and every
distinct failure (a reader that raised something other than a seqkit error), with a count.

    python bench/fuzz_soak.py [CASES]        # default 10,000 of each kind; about 30 minutes

It trains two small runs (char and word level) in a temporary directory first. Failures are
grouped by reader and exception type, the first message of each shown.
"""
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests")]

from fuzzing import (  # noqa: E402
    RUN_FILES,
    corpus_readers,
    damaged_corpus,
    damaged_run,
    failures,
    mutated_safetensors,
    run_readers,
    safetensors_readers,
)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import seqkit  # noqa: E402
from seqkit.config import TrainConfig  # noqa: E402
from seqkit.corpora import path as shipped  # noqa: E402
from seqkit.text.options import TextOptions  # noqa: E402
from seqkit.training.trainer import Trainer  # noqa: E402


def small_run(where, level):
    corpus = Path(where) / "corpus.txt"
    corpus.write_text(shipped().read_text()[:3000])
    config = TrainConfig(corpus=str(corpus), text=TextOptions(level=level), hidden=16, layers=1, batch_size=4,
                         seq_len=16, steps=6, eval_every=3, sample_length=0, seed=0)
    run = Path(where) / f"{level}_run"
    Trainer.start(config, run).run()
    return run


def soak(cases, where):
    found, counts = {}, Counter()
    runs = [small_run(where, level) for level in ("char", "word")]
    exported = Path(where) / "model.safetensors"
    seqkit.load(runs[0]).export(exported)
    scratch = Path(where) / "scratch"
    scratch.mkdir()
    quiet = settings(max_examples=cases, deadline=None, database=None, derandomize=False,
                     suppress_health_check=list(HealthCheck))

    def record(kind, problems):
        counts[kind] += 1
        for reader, problem in problems:
            key = (kind, reader, problem.split(":")[0])
            found.setdefault(key, [0, problem])[0] += 1

    @quiet
    @given(data=st.data())
    def runs_case(data):
        pristine = data.draw(st.sampled_from(runs))
        name = data.draw(st.sampled_from(sorted(RUN_FILES)))
        run = damaged_run(pristine, scratch, name, data.draw(RUN_FILES[name]((pristine / name).read_bytes())))
        record("run directory", failures(run_readers(run)))

    @quiet
    @given(data=st.data())
    def safetensors_case(data):
        path = scratch / "model.safetensors"
        path.write_bytes(data.draw(mutated_safetensors(exported.read_bytes())))
        for leftover in scratch.glob("*.run"):
            import shutil
            shutil.rmtree(leftover)
        record("safetensors", failures(safetensors_readers(path, runs[0] / "vocab.json")))

    text = shipped().read_text()[:20_000]

    @quiet
    @given(data=st.data())
    def corpus_case(data):
        record("corpus", failures(corpus_readers(*data.draw(damaged_corpus(scratch, text)))))

    began = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs_case()
        safetensors_case()
        corpus_case()
    return counts, found, time.monotonic() - began


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as where:
        counts, found, seconds = soak(cases, where)
    print(f"seqkit {seqkit.__version__}: {sum(counts.values()):,} cases in {seconds / 60:.1f} minutes "
          f"({', '.join(f'{n:,} {kind}' for kind, n in counts.items())}); "
          f"{sum(n for n, _ in found.values()):,} failures, {len(found)} distinct")
    for (kind, reader, _), (n, first) in sorted(found.items()):
        print(f"  {kind}, {reader}: {n:,} x {first[:300]}")


if __name__ == "__main__":
    main()

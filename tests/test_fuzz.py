"""Damaged files fed to every reader (tests/fuzzing.py): real run directories (config.json,
vocab.json, the checkpoints' members, metrics.jsonl), .safetensors files and corpora, mutated
by hypothesis; each reader loads the file or raises one of seqkit's own errors with a message,
never anything else. About 30 seconds here (800 cases); bench/fuzz_soak.py runs tens of
thousands of cases."""
import pytest
from fuzzing import (
    RUN_FILES,
    corpus_readers,
    damaged_corpus,
    damaged_run,
    failures,
    mutated_safetensors,
    run_readers,
    safetensors_readers,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared import shakespeare

import seqkit

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


pytestmark = pytest.mark.filterwarnings("ignore::seqkit.errors.SeqkitWarning")  # a cut log line, said


@pytest.mark.parametrize("level", ["char", "word"])
@FUZZ
@given(data=st.data())
def test_a_damaged_run_directory_loads_or_is_refused_in_seqkits_words(level, char_run, word_run, tmp_path, data):
    pristine = char_run if level == "char" else word_run
    name = data.draw(st.sampled_from(sorted(RUN_FILES)), label="file")
    damaged = data.draw(RUN_FILES[name]((pristine / name).read_bytes()), label="bytes")
    run = damaged_run(pristine, tmp_path, name, damaged)
    assert failures(run_readers(run)) == []


@pytest.fixture(scope="module")
def exported(char_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("exported") / "model.safetensors"
    seqkit.load(char_run).export(path)
    return path


@FUZZ
@given(data=st.data())
def test_a_damaged_safetensors_file_loads_or_is_refused_in_seqkits_words(exported, char_run, tmp_path, data):
    damaged = data.draw(mutated_safetensors(exported.read_bytes()), label="bytes")
    path = tmp_path / "model.safetensors"
    path.write_bytes(damaged)
    for leftover in tmp_path.glob("*.run"):
        import shutil
        shutil.rmtree(leftover)
    assert failures(safetensors_readers(path, char_run / "vocab.json")) == []


@FUZZ
@given(data=st.data())
def test_a_damaged_corpus_trains_or_is_refused_in_seqkits_words(tmp_path, data):
    corpus = data.draw(damaged_corpus(tmp_path, shakespeare(20_000)), label="corpus")
    assert failures(corpus_readers(*corpus)) == []

"""Data-parallel training (seqkit.training.group): the arithmetic of splitting a batch in one process,
then real MPI jobs of two processes (`mpiexec -n 2`, from the seqkit[mpi] extra): the same
model as one process, exact resumption, a killed process, --workers. (--workers without the
extra: tests/cli/test_train.py.)

Without mpi4py the MPI tests are skipped, except under CI (CI=true), which installs the extra
and must run them."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from shared import shakespeare

import seqkit
from seqkit import Model
from seqkit._cores import share_cores
from seqkit.cli.common import message
from seqkit.errors import TrainingError
from seqkit.runs.checkpoint import load_arrays
from seqkit.training.group import ALONE, block, check_split

try:
    import mpi4py  # noqa: F401
    MPIEXEC = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
except ImportError:
    MPIEXEC = None
needs_mpi = pytest.mark.skipif(MPIEXEC is None and os.environ.get("CI") != "true",
                               reason='needs MPI: pip install "seqkit[mpi]"')
SEQKIT = [str(Path(sys.executable).parent / "seqkit")]  # the installed command, as users run it


@pytest.mark.parametrize("variational", [False, True])
def test_shares_of_a_batch_add_up_to_the_batch(variational):
    """Two processes' forward and backward on their halves of the streams, each told the whole
    batch's token count and where its streams sit: the losses and gradients add up to those of
    the whole batch, dropout included (float64)."""
    V, T, B, H = 13, 7, 6, 5
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    targets[2, 1] = targets[4, 4] = 1  # ignored: the count differs between the halves
    options = dict(num_layers=2, cell="lstm", embed_size=4, dropout=0.4, input_dropout=0.2, dtype=np.float64,
                   variational=variational, seed=3)
    whole = Model(V, H, **options)
    loss, _, cache = whole.forward(tokens, targets, dropout_rng=np.random.default_rng(9), ignore_index=1)
    expected = {name: g.copy() for name, g in whole.backward(cache)[0].items()}
    count = int(np.count_nonzero(targets != 1))
    part = Model(V, H, **options)
    summed_loss, summed = 0.0, {name: np.zeros_like(g) for name, g in expected.items()}
    for first, stop in ((0, 2), (2, 6)):
        part_loss, _, cache = part.forward(tokens[:, first:stop], targets[:, first:stop],
                                           dropout_rng=np.random.default_rng(9), ignore_index=1,
                                           mean_over=count, streams=(first, stop, B))
        summed_loss += part_loss
        for name, g in part.backward(cache)[0].items():
            summed[name] += g
    assert summed_loss == pytest.approx(loss, rel=1e-13)
    for name, g in expected.items():
        np.testing.assert_allclose(summed[name], g, rtol=1e-11, atol=1e-14, err_msg=name)


def test_gradients_live_in_one_flat_buffer():
    model = Model(11, 8, num_layers=2, cell="gru", embed_size=4, seed=0)
    buffer = model.gradients_with_room(3)
    for name, gradient in model.gradients.items():
        assert np.shares_memory(gradient, buffer) and gradient.shape == model.parameters[name].shape
        assert gradient.ctypes.data % 64 == 0
    tokens = np.arange(12).reshape(4, 3) % 11
    _, _, cache = model.forward(tokens, tokens)
    model.backward(cache)
    assert sum(float(np.abs(g).sum()) for g in model.gradients.values()) == pytest.approx(float(np.abs(buffer).sum()))


def test_blocks_cover_the_streams_in_rank_order():
    class Rank:
        def __init__(self, rank, size):
            self.rank, self.size = rank, size
    assert block(16, ALONE) == slice(0, 16)
    assert [block(16, Rank(r, 2)) for r in range(2)] == [slice(0, 8), slice(8, 16)]
    assert [block(5, Rank(r, 3)) for r in range(3)] == [slice(0, 1), slice(1, 3), slice(3, 5)]


def test_a_batch_that_does_not_split_says_what_works():
    check_split(16, 4)
    with pytest.raises(TrainingError) as uneven:
        check_split(10, 4)
    assert str(uneven.value) == "batch_size=10 does not split evenly between 4 processes: use batch_size=8 or 12, or 2 processes"
    assert message(uneven.value) == "--batch-size 10 does not split evenly between 4 processes: use --batch-size 8 or 12, " \
                                    "or 2 processes"
    with pytest.raises(TrainingError) as few:
        check_split(2, 3)
    assert message(few.value) == "3 processes need at least as many streams, but --batch-size 2 has fewer: raise " \
                                 "--batch-size to 3 or more, or start fewer processes"
    with pytest.raises(TrainingError, match=r"the run in runs/x has batch_size=10, which does not split evenly "
                                            r"between 4 processes: resume it with 1, 2, 5 or 10 processes"):
        check_split(10, 4, resuming="runs/x")


def test_local_processes_share_the_cores():
    environ = {"MPI_LOCALNRANKS": "2"}
    share_cores(environ)
    assert int(environ["OPENBLAS_NUM_THREADS"]) == int(environ["MKL_NUM_THREADS"]) == max(1, len(os.sched_getaffinity(0)) // 2)
    chosen = {"MPI_LOCALNRANKS": "2", "OMP_NUM_THREADS": "3"}
    share_cores(chosen)
    assert "OPENBLAS_NUM_THREADS" not in chosen  # the user's choice stands
    alone = {}
    share_cores(alone)
    assert alone == {"OPENBLAS_THREAD_TIMEOUT": "4"}  # idle BLAS threads sleep at once, whatever the processes
    kept = {"OPENBLAS_THREAD_TIMEOUT": "20"}
    share_cores(kept)
    assert kept == {"OPENBLAS_THREAD_TIMEOUT": "20"}  # unless the user chose


# --- real MPI jobs ------------------------------------------------------------------------------------
def small_run(corpus, run, *extra):
    return ["train", str(corpus), "-o", str(run), "--hidden", "16", "--layers", "2", "--embed", "8",
            "--batch-size", "4", "--seq-len", "12", "--dropout", "0.3", "--clip", "0.5", "--eval-every", "10",
            "--sample-length", "0", "--seed", "5", "--lr-schedule", "step", "--lr-decay", "0.9",
            "--lr-decay-every", "4", *extra]  # a schedule that does not stretch to the run's length


def run_seqkit(arguments, processes=1, timeout=120):
    command = ([MPIEXEC, "-n", str(processes)] if processes > 1 else []) + SEQKIT + arguments
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def parameters(run):
    arrays, meta = load_arrays(Path(run) / "latest.npz")
    return {k: v for k, v in arrays.items() if not k.startswith("state.")}, arrays, meta


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, corpus):
    """The run of one process that the jobs below are compared with: float64, 20 steps."""
    run = tmp_path_factory.mktemp("parallel") / "one"
    run_seqkit(small_run(corpus, run, "--dtype", "float64", "--steps", "20"))
    return run


@needs_mpi
def test_two_processes_train_the_model_one_process_trains(tmp_path, corpus, one_process):
    """Float64, 20 steps of Adam with clipping and dropout: parameters, optimizer moments and the
    carried state of 2 processes equal 1 process's to 1e-10; started with `--workers 2` (which
    runs `mpiexec -n 2`) and resumed by 2 processes half way through, the run is bit for bit the
    one that went straight through."""
    two, halves = tmp_path / "two", tmp_path / "halves"
    run_seqkit(small_run(corpus, two, "--dtype", "float64", "--steps", "20"), processes=2)
    (expected, single_whole, _), (found, whole, meta) = parameters(one_process), parameters(two)
    assert meta["processes"] == 2 and meta["step"] == 20
    for name, array in expected.items():
        np.testing.assert_allclose(found[name], array, rtol=1e-10, atol=1e-12, err_msg=name)
    for name in (k for k in single_whole if k.startswith("state.")):
        assert whole[name].shape == single_whole[name].shape  # every stream's state, gathered
        np.testing.assert_allclose(whole[name], single_whole[name], rtol=1e-10, atol=1e-12)

    result = run_seqkit(small_run(corpus, halves, "--dtype", "float64", "--steps", "10", "--workers", "2"))
    assert "with 2 processes" in result.stderr
    run_seqkit(["train", "--resume", str(halves), "--steps", "20"], processes=2)
    _, resumed, _ = parameters(halves)
    for name, array in whole.items():
        np.testing.assert_array_equal(resumed[name], array, err_msg=name)


@needs_mpi
def test_resuming_with_another_process_count_says_the_streams_were_split_anew(tmp_path, corpus, one_process):
    """10 steps with 2 processes, 10 more with 1: the streams' states were gathered and split
    anew, so the run ends where one process going straight through ends (float64, 1e-10)."""
    run = tmp_path / "run"
    run_seqkit(small_run(corpus, run, "--dtype", "float64", "--steps", "10"), processes=2)
    result = run_seqkit(["train", "--resume", str(run), "--steps", "20"])
    assert "trained with 2 processes and goes on with 1" in result.stderr
    _, resumed, meta = parameters(run)
    _, expected, _ = parameters(one_process)
    assert meta["step"] == 20 and "processes" not in meta
    for name, array in expected.items():
        np.testing.assert_allclose(resumed[name], array, rtol=1e-10, atol=1e-12, err_msg=name)


@needs_mpi
def test_a_batch_that_does_not_split_stops_every_process_with_one_line(tmp_path, corpus):
    command = [MPIEXEC, "-n", "2"] + SEQKIT + small_run(corpus, tmp_path / "run", "--batch-size", "5", "--steps", "5")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--batch-size 5 does not split evenly between 2 processes: use --batch-size 4 or 6" in result.stderr


def rank_pid(job, rank):
    """The pid of one process of the MPI job started as `job`: a descendant whose environment
    says PMI_RANK=rank."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                if f"PMI_RANK={rank}".encode() in environ and f"SEQKIT_TEST_JOB={job}".encode() in environ:
                    return int(entry.name)
            except OSError:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no process of rank {rank} appeared")


@needs_mpi
def test_a_killed_process_ends_the_job_and_the_run_resumes(tmp_path, corpus):
    """SIGKILL one of two processes while they train (started by --workers): the other stops
    well within 30 s, one line names the rank and the signal, the exit status says it failed,
    and the run directory's latest checkpoint loads and resumes."""
    run = tmp_path / "run"
    job = str(os.getpid())
    process = subprocess.Popen(SEQKIT + small_run(corpus, run, "--epochs", "10000", "--eval-every", "3",
                                                  "--workers", "2"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "SEQKIT_TEST_JOB": job}, cwd=tmp_path)
    victim = rank_pid(job, 1)
    deadline = time.monotonic() + 60
    while not (run / "latest.npz").exists() or parameters(run)[2]["step"] < 3:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
        time.sleep(0.2)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - killed < 30
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert f"Error: rank 1 of 2 (pid {victim}) ended: Killed (signal 9); the others were stopped" in stderr
    assert f"seqkit train --resume {run}" in stderr.splitlines()[-1], stderr
    step = parameters(run)[2]["step"]
    assert step >= 3
    result = run_seqkit(["train", "--resume", str(run), "--steps", str(step + 2)])
    assert f"resuming {run} at step {step}" in result.stderr


class SecondRank:
    """What seqkit.training.joining.follower needs of a group: which process this is."""
    rank, size = 1, 2


def test_a_process_with_another_seqkit_or_corpus_refuses_to_start(text_file, tmp_path):
    """What rank 0 sends the others, from a real run; a process whose seqkit version or corpus
    differs stops before training with a line naming its rank and the fix."""
    from seqkit import TrainConfig
    corpus = text_file(len(shakespeare()))  # a corpus of its own, which the test changes and removes
    from seqkit.training.joining import follower
    from seqkit.training.trainer import Trainer
    config = TrainConfig(corpus=str(corpus), hidden=8, layers=1, batch_size=4, seq_len=8, steps=1, seed=0)
    leader = Trainer.start(config, tmp_path / "run")
    leader.release()
    run = {"run_dir": str(leader.run_dir), "config": config.to_dict(), "vocab": leader.vocab.to_dict(),
           "seqkit_version": seqkit.__version__, "files": leader.tokens.files}
    trainer = follower(run, SecondRank())
    assert trainer.streams == slice(2, 4) and not trainer.writes
    with pytest.raises(TrainingError, match=r"rank 1 runs seqkit .* but rank 0 runs 0\.0\.9: install the same"):
        follower({**run, "seqkit_version": "0.0.9"}, SecondRank())
    corpus.write_text(corpus.read_text() + "more")
    with pytest.raises(TrainingError, match=f"rank 1 has another file at {corpus}, which rank 0 reads: give every "
                                            f"machine the same"):
        follower(run, SecondRank())
    corpus.unlink()
    with pytest.raises(TrainingError, match=f"rank 1 cannot find {corpus}, which rank 0 reads"):
        follower(run, SecondRank())


def test_a_second_process_maps_the_token_file_rank_0_wrote(text_file, tmp_path, monkeypatch):
    """With a corpus large enough to be mapped (the bound lowered here), the other processes of a
    group on the same machine map rank 0's token file rather than tokenizing the corpus again."""
    from seqkit import TrainConfig
    from seqkit.training.joining import follower
    from seqkit.training.trainer import Trainer
    monkeypatch.setattr("seqkit.training.streams.CACHE_FROM", 0)
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))  # a cache of its own: none there yet
    config = TrainConfig(corpus=str(text_file(len(shakespeare()))), hidden=8, layers=1, batch_size=4, seq_len=8,
                         steps=1, seed=0)
    leader = Trainer.start(config, tmp_path / "run")
    leader.release()
    assert leader.tokens.mapped and not leader.tokens.cached
    run = {"run_dir": str(leader.run_dir), "config": config.to_dict(), "vocab": leader.vocab.to_dict(),
           "seqkit_version": seqkit.__version__, "files": leader.tokens.files}
    trainer = follower(run, SecondRank())
    assert trainer.tokens.cached and trainer.tokens.path == leader.tokens.path
    assert trainer.train_streams.ids.filename == leader.train_streams.ids.filename  # the same map
    assert np.array_equal(trainer.train_streams[0:9], leader.train_streams[0:9])


@needs_mpi
def test_an_error_in_one_process_ends_them_all_with_one_line(tmp_path, corpus):
    """Rank 1 runs another seqkit version (patched in, through MPMD's second command): it stops
    before training with one line naming its rank, and rank 0, waiting for it, ends too."""
    patched = ("import sys, seqkit._version; seqkit._version.__version__ = '0.0.9'; from seqkit.cli.main import main; "
               "main(prog_name='seqkit')")
    arguments = small_run(corpus, tmp_path / "run", "--steps", "5")
    command = [MPIEXEC, "-n", "1"] + SEQKIT + arguments + [":", "-n", "1", sys.executable, "-c", patched] + arguments
    started = time.monotonic()
    # (-c puts the current directory first on the path: not a checkout, whose seqkit/ has no cli)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert time.monotonic() - started < 30
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "Error: rank 1 runs seqkit 0.0.9 but rank 0 runs" in result.stderr
    assert result.stderr.count("runs seqkit 0.0.9") == 1  # said once

"""The run directory's lock: one trainer at a time writes a run, whatever is done to the files in it."""
import pytest
from shared import small_config

from seqkit.errors import TrainingError
from seqkit.runs.directory import lock_run_dir
from seqkit.training.trainer import Trainer


def test_a_second_trainer_on_a_locked_run_directory_is_refused(corpus, tmp_path):
    """While a trainer holds a run directory (from start or resume until run returns), another
    cannot start or resume there; the lock goes when run returns."""
    first = Trainer.start(small_config(corpus, steps=2), tmp_path / "run")
    with pytest.raises(TrainingError, match="in use by another seqkit train"):
        Trainer.resume(tmp_path / "run")
    with pytest.raises(TrainingError, match="in use by another seqkit train"):
        Trainer.start(small_config(corpus, steps=2), tmp_path / "run")
    first.run()
    resumed = Trainer.resume(tmp_path / "run", steps=4)
    with pytest.raises(TrainingError, match="in use"):
        lock_run_dir(tmp_path / "run")
    resumed.run()
    lock_run_dir(tmp_path / "run").close()  # free again


def test_the_lock_holds_whatever_is_done_to_the_files_in_the_directory(corpus, tmp_path):
    """The lock is on the directory itself: no lock file to delete or replace from under it."""
    first = Trainer.start(small_config(corpus, steps=2), tmp_path / "run")
    assert not (tmp_path / "run" / ".lock").exists()
    for name in (".lock", "config.lock"):  # what a user who thinks a stale lock file blocks them might do
        (tmp_path / "run" / name).write_text("")
        (tmp_path / "run" / name).unlink()
    with pytest.raises(TrainingError, match="in use by another seqkit train"):
        Trainer.resume(tmp_path / "run")
    first.run()
    Trainer.resume(tmp_path / "run", steps=3).run()

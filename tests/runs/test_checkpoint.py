"""Checkpoint files: exact round trips, identical bytes for identical content, atomic
replacement, and refusal of anything that is not what seqkit wrote (pickles included)."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from seqkit._checks import copy_into
from seqkit.errors import CheckpointError
from seqkit.runs.checkpoint import load_arrays, read_json, save_arrays, write_json

META = {"format": 1, "step": 7, "rng": {"state": 2 ** 100 + 3}}


def sample_arrays():
    rng = np.random.default_rng(0)
    return {"model.output.weight": rng.standard_normal((3, 4)).astype(np.float32),
            "optim.exp_avg.x": rng.standard_normal(5), "state.0.0": np.arange(6, dtype=np.uint16)}


def test_round_trip_is_exact(tmp_path):
    arrays = sample_arrays()
    save_arrays(tmp_path / "c.npz", arrays, META)
    loaded, meta = load_arrays(tmp_path / "c.npz")
    assert meta == META
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded[name], array)


def test_files_are_plain_npz_without_pickle(tmp_path):
    save_arrays(tmp_path / "c.npz", sample_arrays(), META)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        assert "model.output.weight" in archive.files


def test_same_content_gives_the_same_bytes(tmp_path):
    save_arrays(tmp_path / "a.npz", sample_arrays(), META)
    save_arrays(tmp_path / "b.npz", sample_arrays(), META)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_truncated_or_corrupt_files_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "c.npz"
    save_arrays(path, sample_arrays(), META)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="c.npz is not a readable seqkit checkpoint"):
        load_arrays(path)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="c.npz is not a readable seqkit checkpoint"):
        load_arrays(path)


def test_a_pickled_object_is_refused_and_never_run(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('PWNED').touch()",))

    path = tmp_path / "c.npz"
    buffer = io.BytesIO()
    np.save(buffer, np.array([Boom()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.x.npy", buffer.getvalue())
        archive.writestr("__meta__.npy", pickle.dumps(META))
    with pytest.raises(CheckpointError):
        load_arrays(path)
    assert not (tmp_path / "PWNED").exists()


def test_another_format_version_is_refused(tmp_path):
    save_arrays(tmp_path / "c.npz", sample_arrays(), dict(META, format=99))
    with pytest.raises(CheckpointError, match="checkpoint format 99, this seqkit reads format 1"):
        load_arrays(tmp_path / "c.npz")


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_arrays(path, sample_arrays(), META)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_arrays(path, sample_arrays(), dict(META, step=8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left behind


def test_json_round_trip_and_errors(tmp_path):
    write_json(tmp_path / "c.json", {"b": [1, 2], "a": "é"})
    assert read_json(tmp_path / "c.json") == {"a": "é", "b": [1, 2]}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="bad.json could not be read"):
        read_json(tmp_path / "bad.json")


def test_copy_into_checks_everything_before_copying():
    targets = {"a": np.zeros(3, np.float32), "b": np.zeros((2, 2))}
    good = {"a": np.ones(3, np.float32), "b": np.ones((2, 2))}
    with pytest.raises(CheckpointError, match=r"the weights: b is float64 \(2, 3\), expected float64 \(2, 2\)"):
        copy_into(targets, dict(good, b=np.ones((2, 3))), "the weights")
    with pytest.raises(CheckpointError, match=r"a is float64 \(3,\), expected float32 \(3,\)"):
        copy_into(targets, dict(good, a=np.ones(3)), "the weights")
    with pytest.raises(CheckpointError, match=r"the weights does not match: missing \['b'\], unexpected \['c'\]"):
        copy_into(targets, {"a": good["a"], "c": good["b"]}, "the weights")
    assert not targets["a"].any() and not targets["b"].any()
    copy_into(targets, good, "the weights")
    assert targets["a"].all() and targets["b"].all()


def archive_with_member(path, name, header_shape, dtype, data):
    """An npz whose member `name` declares header_shape of dtype but holds `data` bytes."""
    save_arrays(path, sample_arrays(), META)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": header_shape})
    members[f"{name}.npy"] = header.getvalue() + data  # the header begins with the magic and version
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)


@pytest.mark.parametrize("shape, data, said", [
    ((10 ** 12,), b"\x00" * 64, r"declares \(1000000000000,\) of float32 \(4,000,000,000,000 bytes\) but holds 64"),
    ((2 ** 62, 4), b"", r"declares \(4611686018427387904, 4\)"),
    ((3, 4), b"\x00" * 40, r"declares \(3, 4\) of float32 \(48 bytes\) but holds 40"),
])
def test_a_member_whose_header_lies_about_its_size_is_refused_before_allocating(tmp_path, shape, data, said):
    path = tmp_path / "c.npz"
    archive_with_member(path, "model.output.weight", shape, np.float32, data)
    with pytest.raises(CheckpointError, match=f"c.npz is not a readable seqkit checkpoint .*{said}"):
        load_arrays(path)


def test_arrays_larger_than_the_memory_available_are_refused_by_their_headers(tmp_path):
    path = tmp_path / "c.npz"
    save_arrays(path, sample_arrays(), META)
    with pytest.raises(CheckpointError, match=r"c.npz declares 0.0 GB of arrays, more than the 0.0 GB of memory "
                                              r"available"):
        load_arrays(path, available=100)
    assert load_arrays(path, available=10 ** 6)[1] == META


def test_what_is_not_a_regular_file_is_refused_by_name(tmp_path):
    with pytest.raises(CheckpointError, match=f"{tmp_path} is a directory, not a checkpoint: give a regular file"):
        load_arrays(tmp_path)
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="fifo.npz is a FIFO, not a checkpoint"):
        load_arrays(fifo)  # refused without opening it: opening a FIFO blocks until a writer comes
    with pytest.raises(CheckpointError, match="/dev/zero is a device, not a checkpoint"):
        load_arrays("/dev/zero")
    with pytest.raises(CheckpointError, match=r"none.npz: the checkpoint could not be read \(No such file"):
        load_arrays(tmp_path / "none.npz")


def test_a_failed_write_is_named_by_the_file_it_was_for_and_leaves_nothing(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as failed:
        write_json(tmp_path / "config.json", {"a": 1})
    assert (failed.value.errno, failed.value.filename) == (28, str(tmp_path / "config.json"))
    assert list(tmp_path.iterdir()) == []

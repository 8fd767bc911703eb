"""metrics.jsonl, the run's log: a last line cut short by a kill or a full disk is dropped with
a warning naming the file (by plot and by --resume, which rewrites the log without it); any
other line that is not a JSON record is an error naming the file and the line."""
import json

import pytest
from shared import copied_run, invoke

from seqkit.errors import CheckpointError, SeqkitWarning
from seqkit.runs.metrics import read_metrics, trim_metrics


def test_a_last_line_cut_short_is_dropped_with_a_warning(char_run, tmp_path):
    run = copied_run(char_run, tmp_path)
    whole = read_metrics(run)
    log = run / "metrics.jsonl"
    log.write_text(log.read_text() + '{"kind": "train", "step": 9, "lo')
    with pytest.warns(SeqkitWarning, match=f"{log} ends in a line cut short .*: that line is dropped"):
        assert read_metrics(run) == whole
    with pytest.warns(SeqkitWarning):
        trim_metrics(run, 10 ** 9)
    assert log.read_text().endswith("}\n") and read_metrics(run) == whole  # the cut line is gone


@pytest.mark.parametrize("bad, said", [('{"kind": "train", "st\n', "not a JSON record"),
                                       ("[1, 2]\n", "a JSON list, not a record")])
def test_any_other_bad_line_is_an_error_naming_the_file_and_line(char_run, tmp_path, bad, said):
    run = copied_run(char_run, tmp_path)
    log = run / "metrics.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2] + [bad] + lines[2:]))
    with pytest.raises(CheckpointError, match=f"{log}, line 3: {said}"):
        read_metrics(run)
    result = invoke("plot", run)
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {log}, line 3: {said}")
    assert "Traceback" not in result.output


def test_plot_and_resume_take_a_run_whose_log_was_cut_short(char_run, tmp_path):
    run = copied_run(char_run, tmp_path)
    log = run / "metrics.jsonl"
    log.write_text(log.read_text() + '{"kind": "ev')
    plotted = invoke("plot", run)
    assert plotted.exit_code == 0
    assert f"warning: {log} ends in a line cut short" in plotted.stderr and "Traceback" not in plotted.output
    steps = max(record["step"] for record in read_metrics(run)) + 2
    resumed = invoke("train", "--resume", run, "--steps", steps)
    assert resumed.exit_code == 0, resumed.output
    assert f"warning: {log} ends in a line cut short" in resumed.stderr
    assert all(json.loads(line) for line in log.read_text().splitlines())

"""A run folder nothing can corrupt: whole appends, torn tails cut, damage refused, one writer at a time."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import harness.experiment as experiment
import harness.records as records
from harness import schema
from harness.records import RESULTS_FILE, load_results
from harness.runfolder import RunFolderBusy, RunLock, read_json
from fakes import tiny_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run (4 contests: 2 shapes x 2 passes), to damage in copies."""
    return experiment.main(tiny_config(strategies=["im2col", "naive"]), tmp_path_factory.mktemp("rec") / "run")


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("results.csv", "phases.csv", "config.json", "env.json"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def resume(run):
    """Resume ``run`` (forced: the code pin is tested in test_contests, and other work may edit strategies/)."""
    experiment.main(tiny_config(resume=str(run), resume_force=True), None,
                    overrides=[f"resume={run}", "resume_force=true"])


def contests(run) -> int:
    return len(records.finished_contests(load_results(run)))


@pytest.mark.parametrize("cut", [120, 1, "last-row"])
def test_a_torn_or_short_last_write_is_cut_back_and_resume_finishes(finished, tmp_path, cut):
    run = copy_run(finished, tmp_path / "run")
    path = run / RESULTS_FILE
    raw = path.read_bytes()
    if cut == "last-row":      # a short write that ended on a line boundary: one row of the last contest missing
        path.write_bytes(raw[:raw.rstrip(b"\n").rfind(b"\n") + 1])
    else:
        path.write_bytes(raw[:-cut])
    assert contests(run) == 3                               # in memory: the partial contest left out
    resume(run)
    final = load_results(run)
    assert contests(run) == 4 and len(final) == len(load_results(finished))
    assert not final.duplicated(["shape", "strategy", "pass", "process", "repeat"]).any()


def test_damage_before_the_end_is_refused_with_its_line(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    lines = (run / RESULTS_FILE).read_text().splitlines(keepends=True)
    lines[3] = lines[3][: len(lines[3]) // 2] + "\n"
    (run / RESULTS_FILE).write_text("".join(lines))
    with pytest.raises(ValueError, match=r"line 4 has \d+ fields where the schema has \d+: the file is damaged there"):
        load_results(run)


def test_a_missing_column_is_refused_naming_it_and_the_schema(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    frame = pd.read_csv(run / RESULTS_FILE).drop(columns=["seconds", "status"])
    frame.to_csv(run / RESULTS_FILE, index=False)
    with pytest.raises(ValueError, match=rf"schema_version {schema.SCHEMA_VERSION}: missing \['status', 'seconds'\]"):
        load_results(run)
    with pytest.raises(ValueError, match="missing"):
        resume(run)


def test_a_contest_on_disk_twice_is_refused(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    text = (run / RESULTS_FILE).read_text().splitlines(keepends=True)
    first = pd.read_csv(run / RESULTS_FILE)
    n = int(first["contest_rows"].iloc[0])
    (run / RESULTS_FILE).write_text("".join(text + text[1:1 + n]))
    with pytest.raises(ValueError, match=r"contest a\|forward\|1\|0 appears twice"):
        load_results(run)


def test_a_disk_full_write_then_resume_completes(finished, tmp_path, monkeypatch):
    """The disk fills during the third contest's append: the run stops; once there is room, resume finishes it."""
    run = tmp_path / "run"
    real_write, real_append = os.write, records.append_unit
    state = {"results_appends": 0, "in_results": False}

    def filling(fd, data):
        if state["in_results"] and state["results_appends"] == 2:   # third contest: half fits, then ENOSPC
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def counting(path, rows, columns):
        state["in_results"] = path.name == RESULTS_FILE
        try:
            real_append(path, rows, columns)
        finally:
            state["in_results"] = False
        state["results_appends"] += path.name == RESULTS_FILE

    monkeypatch.setattr(records.os, "write", filling)
    monkeypatch.setattr("harness.sweep.append_unit", counting)
    with pytest.raises(OSError, match="No space left"):
        experiment.main(tiny_config(strategies=["im2col", "naive"]), run)
    monkeypatch.undo()
    assert contests(run) == 2
    resume(run)
    assert contests(run) == 4 and not load_results(run).duplicated(
        ["shape", "strategy", "pass", "process", "repeat"]).any()


def test_one_writer_per_run_folder(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):
        with pytest.raises(RunFolderBusy, match=rf"{run} is being written by pid {os.getpid()}"):
            RunLock(run).__enter__()
        child = subprocess.run([sys.executable, "-c", f"from harness.runfolder import RunLock\n"
                                f"RunLock({str(run)!r}).__enter__()"], cwd=ROOT, capture_output=True, text=True)
        assert child.returncode != 0 and "RunFolderBusy" in child.stderr
    with RunLock(run):        # the holder is gone: taken at once
        pass


def test_a_dead_writers_lock_is_taken_over(tmp_path, caplog):
    run = tmp_path / "run"
    subprocess.run([sys.executable, "-c", f"import os\nfrom harness.runfolder import RunLock\n"
                    f"RunLock({str(run)!r}).__enter__()\nos._exit(0)"], cwd=ROOT, check=True)
    with caplog.at_level("INFO"), RunLock(run):
        pass
    assert "taking over the lock of pid" in caplog.text


def test_two_resumes_at_once_do_not_duplicate(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    with RunLock(run):
        with pytest.raises(RunFolderBusy):
            resume(run)


@pytest.mark.parametrize("name,content,says", [
    ("config.json", "{not json", "cannot be read"), ("config.json", "[1, 2]", "holds list, not an object"),
    ("env.json", "", "cannot be read")])
def test_unreadable_json_names_the_file(finished, tmp_path, name, content, says):
    run = copy_run(finished, tmp_path / "run")
    (run / name).write_text(content)
    with pytest.raises(ValueError, match=rf"{name} .*{says}"):
        read_json(run / name, "something")


def test_json_files_are_written_whole(tmp_path):
    from harness.runfolder import write_json
    write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1} and not list(tmp_path.glob("*.tmp"))

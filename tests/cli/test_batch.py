"""``dwelltime batch`` as a user meets it: help text, errors and exit status (no detector)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dwelltime.cli import main


def batch(*args: object):
    return CliRunner().invoke(main, ["-q", "batch", *map(str, args)])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_the_help_lists_every_precision_the_job_file_takes():
    import dwelltime.batch.spec as spec
    from dwelltime.precision import PRECISIONS

    help_text = batch("--help").output
    for text in (help_text, spec.__doc__):
        (line,) = [line for line in text.splitlines() if line.strip().startswith("precision:")]
        assert all(value in line for value in PRECISIONS), line


def test_a_yaml_syntax_error_is_one_error_line_naming_file_and_line(tmp_path):
    path = write(tmp_path, "output: o\njobs:\n  - {airport: ZKPY, imagery: x\n")
    result = batch(path)
    assert result.exit_code == 2  # a bad job file
    assert result.stderr == f"Error: {path}: line 4: expected ',' or '}}', but got '<stream end>'\n"


def test_jobs_with_unreadable_inputs_are_each_named_and_exit_1(tmp_path, monkeypatch):
    """Every job is checked before the model loads; none is usable here, so none loads."""

    def no_model(*args, **kwargs):
        raise AssertionError("the detector was loaded for jobs that cannot run")

    monkeypatch.setattr("dwelltime.detector.predict.load_detector", no_model)
    (tmp_path / "bad.csv").write_text("stem,acquired\nx,soon\n")
    path = write(
        tmp_path,
        "output: out\njobs:\n  - {airport: UUEE, imagery: nosuch}\n"
        "  - {airport: ZKPY, imagery: ., times: bad.csv}\n",
    )
    result = batch(path)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"UUEE: not run: {tmp_path / 'nosuch'}: ")
    assert lines[1].startswith("ZKPY: not run: ") and "bad.csv: line 2" in lines[1]
    assert lines[2].endswith(", 2 jobs not run (inputs unreadable)")
    assert "job not run" in (tmp_path / "out" / "batch.log").read_text()


def test_an_output_that_cannot_be_a_folder_is_one_error_line(tmp_path):
    path = write(tmp_path, "output: job.yaml\njobs:\n  - {airport: ZKPY, imagery: x}\n")
    result = batch(path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}: output: cannot write in {path}: File exists\n"


def test_the_help_the_module_and_the_readme_show_every_job_file_key():
    """A key the job file takes but no example shows (tile_size_px) is one users never find."""
    import re
    from dataclasses import fields

    import dwelltime.batch.spec as spec

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Batch job")[1].split("```yaml")[1].split("```")[0]
    keys = {f.name for f in fields(spec.BatchSpec)}
    for text in (batch("--help").output, spec.__doc__, example):
        shown = set(re.findall(r"^\s*(\w+):", text, flags=re.MULTILINE))
        assert sorted(keys - shown) == []


def test_why_a_job_stopped_is_in_its_log_too(tmp_path, monkeypatch):
    """Ctrl-C, or an error that stops the whole job (a device torch lacks), is in batch.log,
    whose place the job's first log line gives: the log of an overnight job does not just
    end."""
    from dwelltime.errors import DwelltimeError

    path = write(tmp_path, "output: out\njobs:\n  - {airport: ZKPY, imagery: .}\n")
    log = tmp_path / "out" / "batch.log"
    for raised, exit_code, line in [
        (KeyboardInterrupt(), 130, "WARNING dwelltime.cli.batch: interrupted; the finished"),
        (DwelltimeError("device 'cuda': no GPU"), 1, "ERROR dwelltime.cli.batch: job stopped: "),
    ]:

        def stop(*args, raised=raised, **kwargs):
            raise raised

        monkeypatch.setattr("dwelltime.batch.runner.run_batch", stop)
        result = batch(path)
        assert result.exit_code == exit_code and "Traceback" not in result.output
        last = log.read_text().splitlines()[-1]
        assert line in last, last
    assert f"INFO dwelltime.cli.batch: job {path}; the log: {log}" in log.read_text()

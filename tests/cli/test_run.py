"""``dwelltime run`` and ``dwelltime demo``: exit codes, outputs, messages."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner

from dwelltime.cli import main


def invoke(*args: object):
    return CliRunner().invoke(main, ["-q", *map(str, args)])


def test_unknown_airport_is_a_usage_error_with_close_matches(tmp_path):
    result = invoke("run", tmp_path, "--airport", "ZKPX")
    assert result.exit_code == 2
    assert "ZKPY" in result.output


def test_an_airport_the_registry_lacks_is_run_with_its_apron_file(tmp_path):
    """``--airport KP-X1 --aprons FILE`` passes the code check and is placed at its aprons."""
    aprons = tmp_path / "aprons.geojson"
    ring = [[125.67, 39.22], [125.68, 39.22], [125.68, 39.23], [125.67, 39.23], [125.67, 39.22]]
    aprons.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    images = tmp_path / "images"
    images.mkdir()
    result = invoke("run", images, "--airport", "KP-X1", "--aprons", aprons)
    assert result.exit_code == 1 and "no usable scene of KP-X1" in result.output
    assert invoke("run", images, "--airport", "KP-X1").exit_code == 2


def test_a_type_the_catalog_does_not_know_is_a_usage_error(tmp_path):
    result = invoke("run", tmp_path, "--airport", "ZKPY", "--type", "ZZZZ")
    assert result.exit_code == 2 and "'ZZZZ' is not an aircraft type" in result.output


def test_an_out_folder_that_cannot_be_made_is_one_line_before_any_work(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = invoke("run", tmp_path, "--airport", "ZKPY", "--out", tmp_path / "blocker" / "out")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert "blocker/out: cannot write output there" in line


def test_run_writes_outputs_and_refuses_to_overwrite(demo_subset, demo_dir, tmp_path):
    folder = demo_subset("zkpy_05", "zkpy_07")
    out = tmp_path / "out"
    args = ("run", folder, "--airport", "ZKPY", "--aprons", demo_dir / "aprons.geojson")
    formats = ("--format", "gpkg", "--format", "geojson")
    result = invoke(*args, "--out", out, *formats, "--max-gap", "48", "--prior-strength", "none")
    assert result.exit_code == 0, result.output
    assert "2 scenes" in result.output and "stay" in result.output
    assert "sightings over 48 h apart split" in result.output  # the rules it linked by
    assert "est h under a log-uniform prior" in result.output
    for name in ("dwelltime.gpkg", "stays.geojson", "detections.geojson", "timeline.png"):
        assert (out / name).exists(), name
    record = json.loads((out / "run.json").read_text())
    link = record["link"]  # the linking rules given
    assert (link["max_gap_h"], link["prior_strength"], link["link_moves"]) == (48.0, None, False)
    made = record["detector"]  # the precision --precision auto chose is printed, as recorded
    assert f"detector {made['weights']}, {made['precision']} on {made['device']}" in result.output
    again = invoke(*args, "--out", out, "--format", "gpkg")
    assert again.exit_code == 1
    assert "--overwrite" in again.output


def test_no_usable_scene_and_strict_exit_1(demo_subset, demo_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("run", empty, "--airport", "ZKPY", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "no usable scene" in result.output
    assert "No stays" not in result.output  # no table of nothing
    assert not (tmp_path / "out").exists()  # no empty files to refuse the next run's --out

    folder = demo_subset("zkpy_05")
    (folder / "broken.tif").write_text("not an image")
    args = ("run", folder, "--airport", "ZKPY", "--aprons", demo_dir / "aprons.geojson")
    lenient = invoke(*args)
    assert lenient.exit_code == 0
    assert "broken.tif" in lenient.output
    assert invoke(*args, "--strict").exit_code == 1


def test_times_give_images_without_one_their_acquisition_time(demo_dir, tmp_path):
    """An image with no time in its file, tags or sidecars is skipped, naming ``--times``;
    with ``--times`` it is used, at the CSV's time."""
    import shutil

    import pandas as pd

    folder = tmp_path / "imagery"
    folder.mkdir()
    shutil.copy(demo_dir / "imagery" / "zkpy_04.tif", folder)  # without its STAC sidecar
    args = ("run", folder, "--airport", "ZKPY", "--aprons", demo_dir / "aprons.geojson")
    without = invoke(*args)
    assert without.exit_code == 1 and "zkpy_04.tif" in without.output
    assert "--times" in without.output
    times = tmp_path / "times.csv"
    times.write_text("stem,acquired\nzkpy_04,2023-07-31T14:20:12+09:00\n")
    out = tmp_path / "out"
    result = invoke(*args, "--times", times, "--out", out, "--format", "csv")
    assert result.exit_code == 0, result.output
    scenes = pd.read_csv(out / "scenes.csv")
    assert scenes[["time_source", "acquired"]].values.tolist() == [["user", "2023-07-31T05:20:12Z"]]
    times.write_text("stem,acquired\nzkpy_04,later\n")
    bad = invoke(*args, "--times", times)
    assert bad.exit_code == 2 and "times.csv: line 2" in bad.output


def test_demo_prints_the_il62_stay_and_writes_results(demo_dir: Path, tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "series").symlink_to(demo_dir)  # the series is rendered once per session
    result = invoke("demo", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    assert "IL62" in result.output and "ZKPY" in result.output
    assert (tmp_path / "demo" / "results" / "stays.csv").exists()
    again = invoke("demo", "--out", tmp_path / "demo")
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_demo_into_a_folder_that_cannot_be_made_is_one_line_before_rendering(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = invoke("demo", "--out", tmp_path / "blocker" / "demo")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert "blocker/demo/results: cannot write output there" in line


def test_tile_and_batch_size_are_options_of_run_as_of_detect(tmp_path, monkeypatch):
    """``--tile-size 1024 --batch-size 49`` (the README's GPU settings) reach pipeline.run."""
    import dwelltime.detector
    import dwelltime.pipeline

    given: dict[str, object] = {}

    def capture(*args: object, **kwargs: object):
        given.update(kwargs)
        raise KeyboardInterrupt

    loaded = SimpleNamespace(describe=lambda: {"precision": "fp32", "device": "cpu"})
    monkeypatch.setattr(dwelltime.detector, "load_detector", lambda *a, **k: loaded)
    monkeypatch.setattr(dwelltime.pipeline, "run", capture)
    invoke("run", tmp_path, "--airport", "ZKPY", "--tile-size", 1024, "--batch-size", 49)
    assert given["tile_size_px"] == 1024 and given["batch_size"] == 49


def test_a_scene_that_fails_when_tiled_is_named_once(tmp_path, write_cut_cog, caplog):
    """A file cut short passes the scan and fails when tiled: one line names it, not a
    logged warning and then the same line again."""
    write_cut_cog(tmp_path / "imagery" / "cut_20230801T023512.tif")
    with caplog.at_level("WARNING", logger="dwelltime"):
        result = invoke("run", tmp_path / "imagery", "--airport", "ZKPY")
    assert result.exit_code == 1
    named = [line for line in result.output.splitlines() if "cut_20230801T023512.tif" in line]
    assert len(named) == 1 and named[0].startswith("skipped "), result.output
    assert "cut_20230801T023512.tif" not in caplog.text


def test_run_checks_the_figures_of_its_figure_format_before_any_work(tmp_path, monkeypatch):
    """``--figure-format pdf`` into a folder holding last run's timeline.pdf: refused at once,
    naming it, before the detector loads."""
    from dwelltime.detector import predict

    monkeypatch.setattr(predict, "load_detector", lambda *a, **k: 1 / 0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "timeline.pdf").write_bytes(b"%PDF")
    result = invoke("run", tmp_path, "--airport", "ZKPY", "--out", out, "--figure-format", "pdf")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"{out / 'timeline.pdf'} already exists; pass --overwrite" in result.stderr


def test_run_checks_an_unknown_code_s_aprons_before_the_detector_loads(tmp_path, monkeypatch):
    """``--airport MY-FIELD --aprons`` of a file without apron polygons: refused in one line
    before the detector loads (it loaded and printed its line first, seconds of waiting)."""
    from dwelltime.detector import predict

    monkeypatch.setattr(predict, "load_detector", lambda *a, **k: 1 / 0)
    aprons = tmp_path / "aprons.geojson"
    aprons.write_text('{"type": "FeatureCollection", "features": []}')
    result = invoke("run", tmp_path, "--airport", "MY-FIELD", "--aprons", aprons)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: {aprons}: holds no apron polygons")

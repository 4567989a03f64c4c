"""The whole job through the Python API, on the bundled Sunan demo, with the shipped model."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dwelltime import pipeline
from dwelltime.io import read_layer
from dwelltime.linking import COREGISTERED_CLOSE_DISTANCE_M, LinkConfig
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS, SCENE_COLUMNS, STAY_COLUMNS

TRUE_DWELL_H = 36.0  # the demo's Il-62M: 31 July 15:40 to 2 August 03:40 UTC


@pytest.fixture(scope="module")
def demo_result(demo_dir: Path) -> pipeline.RunResult:
    return pipeline.run(demo_dir / "imagery", "ZKPY", aprons=demo_dir / "aprons.geojson")


def test_the_visiting_il62_interval_holds_the_true_36_hours(demo_result):
    stays = demo_result.stays
    il62 = stays[stays["type"] == "IL62"]
    assert len(il62) == 1
    stay = il62.iloc[0]
    assert stay["dwell_min_h"] <= TRUE_DWELL_H <= stay["dwell_max_h"]
    assert not stay["censored_start"] and not stay["censored_end"]
    # bounded by the last clear scene before arrival and the first after departure
    assert stay["last_absent_before"] == pd.Timestamp("2023-07-31T05:20:12Z")
    assert stay["first_absent_after"] == pd.Timestamp("2023-08-02T05:35:48Z")


def test_every_scene_is_used_and_frames_follow_the_contracts(demo_result):
    assert demo_result.errors == []
    assert len(demo_result.scenes) == 10
    for frame, columns in (
        (demo_result.scenes, SCENE_COLUMNS),
        (demo_result.coverage, COVERAGE_COLUMNS),
        (demo_result.detections, DETECTION_COLUMNS),
        (demo_result.stays, STAY_COLUMNS),
    ):
        assert set(columns) <= set(frame.columns)
    assert demo_result.detections.crs == demo_result.stays.crs == "EPSG:32651"
    # the cloudy scene saw only part of the aprons
    cloudy = demo_result.coverage[demo_result.coverage["scene_id"] == "zkpy_06_3B_AnalyticMS"]
    assert (cloudy["visible_fraction"] < 0.9).all()


def test_written_result_reads_back(demo_result, tmp_path):
    paths = pipeline.write_result(demo_result, tmp_path)
    assert tmp_path / "dwelltime.gpkg" in paths and tmp_path / "timeline.png" in paths
    stays = read_layer(tmp_path / "dwelltime.gpkg", "stays")
    assert list(stays["stay_id"]) == list(demo_result.stays["stay_id"])
    assert stays.crs == demo_result.stays.crs


def test_the_run_says_which_weights_and_settings_made_it(demo_result, tmp_path):
    from dwelltime import __version__
    from dwelltime.detector.weights import card_path, default_weights

    paths = pipeline.write_result(demo_result, tmp_path)
    made = tmp_path / "run.json"
    assert made in paths and made in pipeline.result_paths(tmp_path)
    record = json.loads(made.read_text())
    card = json.loads(card_path(default_weights()).read_text())
    detector = record["detector"]
    assert detector["weights"] == default_weights().name and detector["sha256"] == card["sha256"]
    assert detector["precision"] in ("bf16", "fp32", "int8") and detector["device"] == "cpu"
    assert detector["score_threshold"] == card["decode"]["score_threshold"]
    assert record["dwelltime"] == __version__ and record["tile_size_px"] == 512
    assert record["link"]["max_visible_misses"] == LinkConfig().max_visible_misses
    # the close gate: COREGISTERED_CLOSE_DISTANCE_M between the scenes the scenes layer says
    # co-registration aligned, max_distance_m elsewhere (close_distance_m left to its default)
    assert (demo_result.scenes["coreg_status"] == "ok").any()
    assert record["link"]["close_distance_m"] is None
    first = made.read_bytes()
    pipeline.write_result(demo_result, tmp_path, overwrite=True)
    assert made.read_bytes() == first  # no clock time in it: a rerun writes the same file


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_record_names_the_git_commit_of_the_code_only_in_a_checkout(tmp_path):
    """run.json's dwelltime_commit: the commit of the checkout whose src/dwelltime runs,
    "-dirty" when changed; None for a package that is not that (installed, even in a repo)."""
    repo = tmp_path / "repo"
    package = repo / "src" / "dwelltime"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "code")
    head = git("rev-parse", "HEAD")
    commit = pipeline.source_commit.__wrapped__
    assert len(head) == 40 and commit(package) == head
    (package / "__init__.py").write_text("changed = True\n")
    assert commit(package) == f"{head}-dirty"
    installed = repo / ".venv" / "site-packages" / "dwelltime"
    installed.mkdir(parents=True)
    assert commit(installed) is None
    outside = tmp_path / "site-packages" / "dwelltime"
    outside.mkdir(parents=True)
    assert commit(outside) is None

    class Made:
        def describe(self) -> dict[str, object]:
            return {"precision": "fp32"}

    record = pipeline.detection_provenance(Made(), 512)  # type: ignore[arg-type]
    assert record["dwelltime_commit"] == pipeline.source_commit()


def test_a_bad_file_is_reported_and_the_others_are_used(demo_subset, demo_dir):
    folder = demo_subset("zkpy_03", "zkpy_04")
    (folder / "zkpy_99_20230802T000000.tif").write_bytes(b"II*\x00 truncated")
    result = pipeline.run(folder, "FNJ", aprons=demo_dir / "aprons.geojson", type_filter="il62")
    assert [Path(e.path).name for e in result.errors] == ["zkpy_99_20230802T000000.tif"]
    assert "\n" not in str(result.errors[0])
    (skipped,) = result.provenance["skipped"]  # run.json names what the tables lack, and why
    assert skipped == {"path": result.errors[0].path, "reason": result.errors[0].reason}
    assert sorted(result.scenes["scene_id"]) == ["zkpy_03", "zkpy_04"]
    assert set(result.stays["type"]) <= {"IL62"}


def test_a_file_cut_short_after_its_overviews_is_named_as_truncated(tmp_path, write_cut_cog):
    """Scanned (its overviews read) but unreadable when tiled: the scene's error says the file
    is truncated, not GDAL's "Read failed. See previous exception"."""
    from rasterio.errors import RasterioIOError

    from dwelltime.airports import airport_and_aprons
    from dwelltime.errors import UNREADABLE_PIXELS
    from dwelltime.scenes import scan
    from dwelltime.tiling import TileSpec, iter_tiles

    write_cut_cog(tmp_path / "cut_20230801T023512.tif")
    [scene] = scan(tmp_path).scenes
    site, aprons = airport_and_aprons("ZKPY")
    with pytest.raises(RasterioIOError) as caught:
        list(iter_tiles(scene, site, aprons, TileSpec()))
    error = pipeline.as_scene_error(scene, caught.value)
    assert error.path == str(scene.path) and error.reason == UNREADABLE_PIXELS


def test_a_stac_item_collection_stands_in_for_the_folder(demo_subset, demo_dir, demo_result):
    from dwelltime.scenes import scan

    folder = demo_subset("zkpy_03", "zkpy_04")
    items = [
        {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": f"item-{s.scene_id}",
            "geometry": None,
            "properties": {"datetime": s.acquired.isoformat()},
            "assets": {"data": {"href": f"imagery/{s.path.name}", "roles": ["data"]}},
        }
        for s in scan(folder).scenes
    ]
    (folder / "imagery").mkdir()
    for s in scan(folder).scenes:
        s.path.rename(folder / "imagery" / s.path.name)
    collection = folder / "items.json"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    result = pipeline.run(collection, "ZKPY", aprons=demo_dir / "aprons.geojson")
    assert list(result.scenes["scene_id"]) == ["item-zkpy_03", "item-zkpy_04"]
    assert set(result.scenes["time_source"]) == {"stac"}
    same = demo_result.scenes.set_index("scene_id").loc[["zkpy_03", "zkpy_04"], "acquired"]
    assert list(result.scenes["acquired"]) == list(same)
    found = demo_result.detections
    assert len(result.detections) == (found["scene_id"].isin(["zkpy_03", "zkpy_04"])).sum()


def test_a_type_filter_that_keeps_no_stay_says_which_types_there_were(
    demo_result, demo_dir, caplog
):
    from dwelltime.scenes import scan

    result = pipeline.link_scenes(
        demo_result.airport,
        demo_result.aprons,
        scan(demo_dir / "imagery").scenes,
        demo_result.coverage,
        demo_result.detections,
        coregister=False,
        type_filter="B744",
    )
    assert result.stays.empty
    assert "ZKPY: No stays of type B744 (" in caplog.text and "IL62" in caplog.text


def test_a_missing_flights_or_times_file_is_the_readers_error_not_a_bare_oserror(tmp_path):
    """``run(…, flights="missing.csv")``: the FlightsError (TimesError) a notebook catches as
    DwelltimeError, naming the file, not the FileNotFoundError of hashing it for run.json."""
    from dwelltime.errors import DwelltimeError

    missing = tmp_path / "missing.csv"
    for given, what in [({"flights": missing}, "flights"), ({"times": missing}, "times")]:
        with pytest.raises(DwelltimeError, match=rf"missing.csv: cannot read the {what} CSV"):
            pipeline.run(tmp_path, "ZKPY", **given)


def test_an_unknown_type_is_refused_before_anything_is_read(tmp_path):
    from dwelltime.errors import UnknownTypeError

    with pytest.raises(UnknownTypeError, match=r"'IL62X' is not .*\(did you mean IL62"):
        pipeline.run(tmp_path / "not read", "ZKPY", type_filter="IL62X")


def test_relinking_in_memory_refuses_an_unknown_type_as_run_does():
    """``estimate_stays`` (relinking a result with other rules) reads ``type_filter`` as
    :func:`pipeline.run` does, rather than keeping no stay of a misspelt type."""
    from dwelltime.errors import UnknownTypeError
    from dwelltime.schema import empty_frame

    detections = empty_frame(DETECTION_COLUMNS, "EPSG:32651")
    coverage = empty_frame(COVERAGE_COLUMNS, "EPSG:32651")
    with pytest.raises(UnknownTypeError, match=r"'IL62X' is not .*\(did you mean IL62"):
        pipeline.estimate_stays(detections, coverage, LinkConfig(), type_filter="IL62X")


def one_sighting_result(provenance: dict[str, object]) -> pipeline.RunResult:
    """A ZKPY result of three scenes that saw apron A, an IL62 seen (score 0.8) in the
    second, linked with close_distance_m set to 5 m; ``provenance`` as given."""
    import geopandas as gpd
    import shapely

    from dwelltime.airports import lookup_airport

    site = lookup_airport("ZKPY")
    when = pd.to_datetime(["2023-07-31T02:00Z", "2023-08-01T02:00Z", "2023-08-02T02:00Z"])
    apron = shapely.box(0, 0, 400, 400)
    coverage = gpd.GeoDataFrame(
        [(f"s{i}", "ZKPY", "A", t, 1.0, apron) for i, t in enumerate(when)],
        columns=list(COVERAGE_COLUMNS),
        crs=site.crs,
    )
    row = ("s1:0", "s1", "ZKPY", when[1], 200.0, 200.0, 90.0, 53.0, 43.0, "IL62", 0.9, 0.8)
    detections = gpd.GeoDataFrame(
        [(*row, shapely.Point(200, 200).buffer(20))], columns=list(DETECTION_COLUMNS), crs=site.crs
    )
    config = LinkConfig(close_distance_m=COREGISTERED_CLOSE_DISTANCE_M)
    return pipeline.RunResult(
        airport=site,
        aprons=gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[apron], crs=site.crs),
        scenes=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        coverage=coverage,
        detections=detections,
        stays=pipeline.estimate_stays(detections, coverage, config),
        provenance=provenance,
        link_config=config,
    )


@pytest.mark.parametrize(("status", "n_stays"), [("ok", 2), ("low_peak", 1)])
def test_a_result_relinks_with_the_tight_close_gate_between_its_aligned_scenes(status, n_stays):
    """The IL62 of s1 seen again at s2, a day later and 8 m off: another aircraft when s2 was
    co-registered as s1 was (close gate 5 m), the same one when s2 was left unshifted (its
    8 m may be misregistration): ``relink`` reads which scenes were aligned from ``scenes``."""
    made = one_sighting_result({})
    again = made.detections.assign(detection_id="s2:0", scene_id="s2", x=208.0)
    again["acquired"] = made.coverage["acquired"].iloc[2]
    scenes = pd.DataFrame(
        {"scene_id": ["s0", "s1", "s2"], "coreg_status": ["reference", "ok", status]}
    )
    result = replace(
        made,
        scenes=scenes,
        detections=pd.concat([made.detections, again], ignore_index=True),
        link_config=LinkConfig(),
    )
    assert len(result.relink().stays) == n_stays


def test_a_result_relinks_in_memory_by_its_own_rules_changed(tmp_path):
    """``RunResult.relink(**changes)``: new stays from the same detections, by the result's
    rules (its close_distance_m kept) with ``changes``, recorded in the
    provenance; the result it came from is left as it was."""
    result = one_sighting_result({"link": {}, "inputs": {"airport": "ZKPY"}})
    config = result.link_config
    assert len(result.stays) == 1  # one sighting of score 0.8 >= 0.65

    strict = result.relink(min_score_single=0.9)
    assert strict.stays.empty and len(result.stays) == 1
    assert strict.link_config == replace(config, min_score_single=0.9)
    assert strict.provenance["link"]["min_score_single"] == 0.9
    assert strict.provenance["link"]["close_distance_m"] == COREGISTERED_CLOSE_DISTANCE_M
    assert strict.provenance["inputs"] == {"airport": "ZKPY"}  # inputs as made: same log
    assert list(result.relink(type_filter="Il-62").stays["type"]) == ["IL62"]
    with pytest.raises(ValueError, match=r"unknown LinkConfig keys \['max_gap'\]"):
        result.relink(max_gap=24)


def test_relinking_keeps_the_results_type_filter_and_flight_log_unless_given(tmp_path):
    """``relink(max_gap_h=24)`` changes only the link rule: a result made with a type filter
    and a flight log keeps both (stays, fields and run.json record); ``type_filter=None`` and
    ``flights=None`` given explicitly remove them, and a new log's file is recorded."""
    from dwelltime.flights import as_flights
    from dwelltime.io import file_record

    log = pd.DataFrame(
        {"time": ["2023-08-01T12:00Z"], "airport": ["ZKPY"], "event": ["dep"], "type": ["IL62"]}
    )
    csv = tmp_path / "flights.csv"
    log.to_csv(csv, index=False)
    record = {"link": {}, "inputs": {"airport": "ZKPY", "flights": file_record(csv)}}
    made = one_sighting_result(record)
    made = replace(made, flights=as_flights(log), type_filter="IL62")
    made.stays = made.relink(flights=log, type_filter="IL62").stays
    assert made.stays["end_bounded_by"].str.startswith("flight:").all()  # the log tightened it

    again = made.relink(max_gap_h=24)
    assert again.type_filter == "IL62" and again.flights is made.flights
    assert list(again.stays["type"]) == ["IL62"]
    assert list(again.stays["end_bounded_by"]) == list(made.stays["end_bounded_by"])
    assert again.provenance["type_filter"] == "IL62" and again.provenance["flights"] is True
    assert again.provenance["inputs"]["flights"] == file_record(csv)
    assert again.provenance["link"]["max_gap_h"] == 24

    bare = made.relink(flights=None, type_filter=None)
    assert bare.type_filter is None and bare.flights is None
    assert not bare.stays["end_bounded_by"].str.startswith("flight:").any()
    assert bare.provenance["type_filter"] is None and bare.provenance["flights"] is False
    assert bare.provenance["inputs"]["flights"] is None
    other = bare.relink(flights=csv, type_filter="Il-62")
    assert other.type_filter == "IL62" and other.provenance["inputs"]["flights"] == file_record(csv)


def test_the_summary_says_when_the_stays_are_of_one_type_only():
    """``result`` in a notebook after ``type_filter="IL62"``: "1 stay of type IL62", not "1
    stay", which reads as every aircraft there was (the detections are of every type)."""
    from dwelltime.scenes import scenes_frame

    made = replace(one_sighting_result({}), scenes=scenes_frame([]))
    assert repr(made.relink(type_filter="IL62")).endswith("1 detection, 1 stay of type IL62>")
    assert made.summary().endswith("1 detection, 1 stay")


def test_result_folders_and_flight_logs_given_as_tilde_are_in_the_home_folder(
    tmp_path, monkeypatch
):
    """``write_result(r, "~/out")``, ``read_result("~/out")``, ``relink(flights="~/f.csv")``:
    ``~`` is the home folder, as the CLI and pandas read it."""
    from dwelltime.scenes import scenes_frame

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    pd.DataFrame(
        {"time": ["2023-08-01T12:00Z"], "airport": ["ZKPY"], "event": ["dep"], "type": ["IL62"]}
    ).to_csv(home / "flights.csv", index=False)
    made = one_sighting_result({"link": {}, "inputs": {"airport": "ZKPY"}})
    made = replace(made, scenes=scenes_frame([])).relink(flights="~/flights.csv")
    pipeline.write_result(made, "~/out")
    assert (home / "out" / "dwelltime.gpkg").exists() and not (tmp_path / "~").exists()
    assert pipeline.read_result("~/out").flights is not None


def test_a_saved_result_reads_back_as_a_result_to_relink(tmp_path, caplog):
    """``read_result(out)``: what ``write_result`` saved, back as a RunResult with its link
    rules, type filter and flight log (read again from run.json's file), so ``relink`` in a
    notebook gives what ``dwelltime link`` gives; a log no longer there is said, not a crash."""
    from dataclasses import asdict

    from dwelltime.scenes import scenes_frame

    csv = tmp_path / "flights.csv"
    pd.DataFrame(
        {"time": ["2023-08-01T12:00Z"], "airport": ["ZKPY"], "event": ["dep"], "type": ["IL62"]}
    ).to_csv(csv, index=False)
    made = one_sighting_result({"link": {}, "inputs": {"airport": "ZKPY"}})
    made = replace(made, scenes=scenes_frame([])).relink(flights=csv, type_filter="IL62")
    pipeline.write_result(made, tmp_path / "out")

    back = pipeline.read_result(tmp_path / "out")
    assert back.airport == made.airport and back.link_config == made.link_config
    assert back.type_filter == "IL62" and back.flights is not None
    assert back.provenance == json.loads(json.dumps(made.provenance))
    assert back.detections.crs == made.airport.crs and back.stays.crs == made.airport.crs
    again = back.relink(max_gap_h=24)
    assert list(again.stays["end_bounded_by"]) == list(made.stays["end_bounded_by"])
    assert again.provenance["link"] == {**asdict(made.link_config), "max_gap_h": 24}

    csv.unlink()
    with caplog.at_level(logging.WARNING, logger="dwelltime.pipeline"):
        assert pipeline.read_result(tmp_path / "out").flights is None
    assert "flight log" in caplog.text and "flights=" in caplog.text


@pytest.mark.parametrize("name", ["dwelltime.gpkg", "run.json", "stays.csv"])
def test_a_saved_result_given_by_one_of_its_files_reads_back_whole(tmp_path, name):
    """``read_result("out/dwelltime.gpkg")`` (or run.json, a layer's CSV) is the folder's
    result, run.json's link rules and type filter with it: the layers alone would relink by
    the default rules, silently. Another file is refused naming the folder to give."""
    from dwelltime.scenes import scenes_frame

    made = one_sighting_result({"link": {}, "inputs": {"airport": "ZKPY"}})
    made = replace(made, scenes=scenes_frame([])).relink(type_filter="IL62", max_gap_h=30)
    pipeline.write_result(made, tmp_path / "out")

    back = pipeline.read_result(tmp_path / "out" / name)
    assert back.type_filter == "IL62" and back.link_config == made.link_config
    assert back.provenance == json.loads(json.dumps(made.provenance))
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"give the folder .*read_result\('.*out'\)$"):
        pipeline.read_result(tmp_path / "out" / "notes.txt")
    with pytest.raises(FileNotFoundError, match="no such folder; give the folder write_result"):
        pipeline.read_result(tmp_path / "results")


def test_a_relinked_folder_without_aprons_reads_back_too(tmp_path):
    """``dwelltime link --out`` writes no aprons layer: ``read_result`` takes the run's apron
    file from run.json (here none: the default square) instead of refusing the folder."""
    from dwelltime.io import write_layers, write_provenance
    from dwelltime.scenes import scenes_frame

    record = {"link": {}, "inputs": {"airport": "ZKPY"}}
    made = replace(one_sighting_result(record), scenes=scenes_frame([]))
    layers = {k: v for k, v in made.layers().items() if k != "aprons"}
    write_layers(tmp_path, layers)
    write_provenance(tmp_path, made.provenance)

    back = pipeline.read_result(tmp_path)
    assert len(back.aprons) == 1 and back.airport == made.airport
    assert list(back.relink().stays["stay_id"]) == list(made.stays["stay_id"])


def test_link_rules_may_be_a_mapping_checked_before_anything_is_read(tmp_path):
    """``link_config={"max_gap_h": 24}`` is read as LinkConfig.from_dict reads it; a misspelt
    field or another type is refused before any scene is read or detected, not after."""
    from dwelltime.schema import empty_frame

    detections = empty_frame(DETECTION_COLUMNS, "EPSG:32651")
    coverage = empty_frame(COVERAGE_COLUMNS, "EPSG:32651")
    assert pipeline.estimate_stays(detections, coverage, {"max_gap_h": 24}).empty
    with pytest.raises(ValueError, match=r"unknown LinkConfig keys \['max_gapp_h'\]"):
        pipeline.run(tmp_path / "not read", "ZKPY", link_config={"max_gapp_h": 24})
    with pytest.raises(TypeError, match="give a LinkConfig or a mapping of its fields, not 24"):
        pipeline.run(tmp_path / "not read", "ZKPY", link_config=24)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a whole number ≥ 1, got 0"),
        ({"tile_size_px": "512"}, "tile_size_px must be a whole number ≥ 64, got '512'"),
    ],
)
def test_tile_and_batch_sizes_are_checked_before_anything_is_read(tmp_path, given, message):
    """``batch_size=0`` detected nothing in every scene, then failed on a CRS mismatch;
    ``tile_size_px="512"`` was a bare TypeError. Both are a SettingsError before any scan."""
    from dwelltime.errors import SettingsError

    with pytest.raises(SettingsError, match=message):
        pipeline.run(tmp_path / "not read", "ZKPY", **given)


def test_a_weights_file_given_as_the_detector_is_loaded_as_weights(tmp_path):
    """``detector="my.safetensors"`` is read as ``--weights`` reads it (here: missing, the
    loader's WeightsError), not an AttributeError of a str without ``gsd_m``."""
    from dwelltime.errors import WeightsError

    with pytest.raises(WeightsError, match=r"missing\.safetensors: detector weights file not"):
        pipeline.run(tmp_path, "ZKPY", detector=str(tmp_path / "missing.safetensors"))


@pytest.fixture
def detector(monkeypatch):
    """A stand-in detector, with scenes processed into coverage only (no detections)."""
    from types import SimpleNamespace

    from dwelltime.schema import empty_frame
    from dwelltime.tiling import scene_coverage

    def coverage_only(scene, site, aprons, detector, spec, **kwargs):
        return scene_coverage(scene, site, aprons), empty_frame(DETECTION_COLUMNS, site.crs)

    monkeypatch.setattr(pipeline, "process_scene", coverage_only)
    return SimpleNamespace(gsd_m=0.5, describe=dict)


def test_a_run_with_no_detections_keeps_the_detectors_typed_columns(
    tmp_path, write_raster, detector, monkeypatch
):
    """No scene with an aircraft: the detections layer still has the detector's extra
    columns (tile_index…) and numbers as numbers, as a run with aircraft writes them."""
    from dwelltime.schema import empty_frame
    from dwelltime.tiling import scene_coverage

    extra = (*DETECTION_COLUMNS, "size_class", "size_sigma_m", "tile_index")

    def coverage_only(scene, site, aprons, detector, spec, **kwargs):
        return scene_coverage(scene, site, aprons), empty_frame(extra, site.crs)

    monkeypatch.setattr(pipeline, "process_scene", coverage_only)
    write_raster(tmp_path / "imagery" / "zkpy_20230731T023512.tif")
    result = pipeline.run(tmp_path / "imagery", "ZKPY", detector=detector, coregister=False)
    assert set(result.detections.columns) == set(extra)
    assert str(result.detections["x"].dtype) == "float64"
    assert str(result.detections["tile_index"].dtype) == "int64"


def test_the_detect_stage_is_reported_before_its_first_scene(
    tmp_path, write_raster, detector, monkeypatch
):
    """``progress("detect", 0, n)`` comes before the first scene is detected, so a bar (a
    notebook's or the CLI's) is there and timing while it is, not only after it."""
    from dwelltime.schema import empty_frame
    from dwelltime.tiling import scene_coverage

    calls: list[tuple[str, int, int]] = []

    def coverage_only(scene, site, aprons, detector, spec, **kwargs):
        calls.append(("process", 0, 0))
        return scene_coverage(scene, site, aprons), empty_frame(DETECTION_COLUMNS, site.crs)

    monkeypatch.setattr(pipeline, "process_scene", coverage_only)
    write_raster(tmp_path / "imagery" / "zkpy_20230731T023512.tif")
    pipeline.run(
        tmp_path / "imagery", "ZKPY", detector=detector, coregister=False,
        progress=lambda *call: calls.append(call),
    )  # fmt: skip
    detect = [c for c in calls if c[0] in ("detect", "process")]
    assert detect == [("detect", 0, 1), ("process", 0, 0), ("detect", 1, 1)]


def test_progress_names_the_stages_pipeline_progress_documents(
    tmp_path, write_raster, detector, monkeypatch
):
    """A ``progress`` callback hears of the stages :data:`pipeline.Progress` names, in its
    order: linking too, which the documentation left out (a callback keyed by the stages it
    listed had no entry for "link")."""
    import geopandas as gpd
    import shapely

    from dwelltime.tiling import scene_coverage

    def one_aircraft(scene, site, aprons, detector, spec, **kwargs):
        x, y = aprons.geometry.iloc[0].centroid.coords[0]
        row = {"detection_id": f"{scene.scene_id}:0", "scene_id": scene.scene_id}
        row |= {"airport": site.icao, "acquired": scene.acquired, "x": x, "y": y}
        row |= {"heading_deg": 0.0, "length_m": 53.0, "wingspan_m": 43.0, "type": "IL62"}
        row |= {"type_prob": 0.9, "score": 0.9, "geometry": shapely.Point(x, y).buffer(20)}
        return scene_coverage(scene, site, aprons), gpd.GeoDataFrame([row], crs=site.crs)

    monkeypatch.setattr(pipeline, "process_scene", one_aircraft)
    write_raster(tmp_path / "imagery" / "zkpy_20230731T023512.tif")
    calls: list[tuple[str, int, int]] = []
    result = pipeline.run(
        tmp_path / "imagery", "ZKPY", detector=detector, progress=lambda *c: calls.append(c)
    )
    assert len(result.stays) == 1
    assert list(dict.fromkeys(stage for stage, _, _ in calls)) == [
        "scan", "detect", "coregister", "link"
    ]  # fmt: skip


def test_flights_and_times_may_be_files_read_before_any_scene(
    tmp_path, write_raster, monkeypatch, detector
):
    """``run(flights=, times=)`` take the CSVs as ``--flights``/``--times`` do (str or Path);
    a bad file stops the run before a scene is scanned or detected."""
    from dwelltime.flights import FlightsError

    write_raster(tmp_path / "imagery" / "zkpy_a.tif")  # no time in the name: only --times
    times = tmp_path / "t.csv"
    times.write_text("stem,acquired\nzkpy_a,2023-07-31T02:35:12Z\n")
    flights = tmp_path / "f.csv"
    flights.write_text("time,airport,event,type\n2023-07-31T01:00:00Z,FNJ,arr,IL62\n")
    result = pipeline.run(
        tmp_path / "imagery", "ZKPY", detector=detector, coregister=False,
        flights=str(flights), times=times,
    )  # fmt: skip
    assert not result.errors
    assert list(result.scenes["time_source"]) == ["user"]
    assert list(result.scenes["acquired"]) == [pd.Timestamp("2023-07-31T02:35:12Z")]
    assert result.provenance["flights"] is True

    def no_scan(*args, **kwargs):
        raise AssertionError("scanned before the flights CSV was read")

    monkeypatch.setattr(pipeline, "scan", no_scan)
    bad = tmp_path / "bad.csv"
    bad.write_text("when,where\n")
    with pytest.raises(FlightsError, match=r"bad\.csv: .*missing"):
        pipeline.run(tmp_path / "imagery", "ZKPY", detector=detector, flights=bad)


def test_the_record_names_the_inputs_and_the_sha256_of_each_file(tmp_path, write_raster, detector):
    """run.json is enough to reproduce a run: airport, imagery, and the aprons, times and
    flights files (absolute paths, sha256); the same run gives the same record."""
    import hashlib

    from dwelltime.io import write_provenance

    write_raster(tmp_path / "imagery" / "zkpy_a.tif")
    (tmp_path / "t.csv").write_text("stem,acquired\nzkpy_a,2023-07-31T02:35:12Z\n")
    args = (Path("imagery"), "FNJ")  # relative, and an IATA code
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        records = [
            pipeline.run(*args, detector=detector, coregister=False, times="t.csv").provenance
            for _ in range(2)
        ]
    inputs = records[0]["inputs"]
    assert inputs["airport"] == "ZKPY" and inputs["imagery"] == str(tmp_path / "imagery")
    assert inputs["aprons"] is None and inputs["flights"] is None  # the default square
    sha256 = hashlib.sha256((tmp_path / "t.csv").read_bytes()).hexdigest()
    assert inputs["times"] == {"path": str(tmp_path / "t.csv"), "sha256": sha256}
    assert records[0]["flights"] is False  # as before: whether a flight log tightened bounds
    written = [write_provenance(tmp_path / str(i), r).read_bytes() for i, r in enumerate(records)]
    assert written[0] == written[1]


def test_the_record_says_which_aprons_were_searched(tmp_path, write_raster, detector):
    """run.json named the apron file (path, sha256) but not which of its layers was read, how
    many aprons were kept nor their area: ``inputs.apron_set`` says so (overlaps counted
    once), and for the default square too."""
    import geopandas as gpd
    import rasterio
    import shapely

    with rasterio.open(write_raster(tmp_path / "imagery" / "zkpy_a.tif")) as image:
        x0, y0 = image.bounds.left, image.bounds.top  # 32 m x 32 m
    path = tmp_path / "airfield.gpkg"
    runway = shapely.LineString([(x0, y0), (x0 + 30, y0)])
    gpd.GeoDataFrame(geometry=[runway], crs=32651).to_file(path, layer="runways")
    boxes = [shapely.box(x0, y0 - 20, x0 + 20, y0), shapely.box(x0 + 10, y0 - 20, x0 + 30, y0)]
    gpd.GeoDataFrame(geometry=boxes, crs=32651).to_file(path, layer="aprons")
    times = {"zkpy_a": "2023-07-31T02:35:12Z"}
    record = pipeline.run(tmp_path / "imagery", "ZKPY", aprons=path, times=times, detector=detector)
    made = record.provenance["inputs"]
    assert made["aprons"]["path"] == str(path)
    assert made["apron_set"] == {"layer": "aprons", "count": 2, "area_km2": 0.0006}
    default = pipeline.run(tmp_path / "imagery", "ZKPY", times=times, detector=detector)
    assert default.provenance["inputs"]["apron_set"] == {"layer": None, "count": 1, "area_km2": 9.0}


def test_aprons_of_a_layer_named_are_searched_recorded_and_read_back(
    tmp_path, write_raster, detector
):
    """aprons=(file, layer) reads that layer of a file of several, none named like apron (which
    could not be used at all); run.json records it and read_result reads the same layer again
    where the result holds no aprons layer (a ``dwelltime link`` folder's)."""
    import geopandas as gpd
    import rasterio
    import shapely

    with rasterio.open(write_raster(tmp_path / "imagery" / "zkpy_a.tif")) as image:
        x0, y0 = image.bounds.left, image.bounds.top  # 32 m x 32 m
    path = tmp_path / "airfield.gpkg"
    for layer, n in (("stands", 1), ("parking", 2)):
        boxes = [shapely.box(x0 + 10 * i, y0 - 10, x0 + 10 * i + 5, y0) for i in range(n)]
        ids = [f"{layer}-{i}" for i in range(n)]
        gpd.GeoDataFrame({"name": ids}, geometry=boxes, crs=32651).to_file(path, layer=layer)
    times = {"zkpy_a": "2023-07-31T02:35:12Z"}
    result = pipeline.run(
        tmp_path / "imagery", "ZKPY", aprons=(path, "parking"), times=times, detector=detector
    )
    assert result.aprons["apron_id"].tolist() == ["parking-0", "parking-1"]
    made = result.provenance["inputs"]
    assert made["aprons"]["path"] == str(path)
    assert made["apron_set"] == {"layer": "parking", "count": 2, "area_km2": 0.0001}
    pipeline.write_result(result, tmp_path / "out", formats=("csv",))
    (tmp_path / "out" / "aprons.csv").unlink()
    again = pipeline.read_result(tmp_path / "out")
    assert again.aprons["apron_id"].tolist() == ["parking-0", "parking-1"]


def test_a_relinked_folder_whose_runs_apron_file_is_gone_reads_back_with_the_seen_aprons(
    tmp_path, write_raster, detector, caplog
):
    """A ``dwelltime link`` folder (no aprons layer) read where the run's apron file is not
    (moved, or the folder copied without it) was an ApronError: the whole result could not be
    read. Its aprons are now what the coverage layer saw of each, said in a warning; the
    stays relink as before."""
    import geopandas as gpd
    import rasterio
    import shapely

    with rasterio.open(write_raster(tmp_path / "imagery" / "zkpy_a.tif")) as image:
        x0, y0 = image.bounds.left, image.bounds.top  # 32 m x 32 m
    path = tmp_path / "aprons.geojson"
    boxes = [shapely.box(x0 + 10 * i, y0 - 10, x0 + 10 * i + 5, y0) for i in (0, 1)]
    gpd.GeoDataFrame({"name": ["P1", "P2"]}, geometry=boxes, crs=32651).to_file(path)
    times = {"zkpy_a": "2023-07-31T02:35:12Z"}
    result = pipeline.run(tmp_path / "imagery", "ZKPY", aprons=path, times=times, detector=detector)
    pipeline.write_result(result, tmp_path / "out", formats=("csv",))
    (tmp_path / "out" / "aprons.csv").unlink()
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="dwelltime.pipeline"):
        again = pipeline.read_result(tmp_path / "out")
    assert "the run's apron file cannot be read again" in caplog.text and str(path) in caplog.text
    assert (
        again.aprons["apron_id"].tolist() == ["P1", "P2"] and again.aprons.crs == result.airport.crs
    )
    assert again.relink().stays.empty


def test_a_result_shows_as_one_summary_line_not_five_frames(tmp_path, detector):
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    result = pipeline.run(tmp_path, "ZKPY", detector=detector)
    line = "ZKPY Pyongyang International Airport: 0 scenes, 0 detections, 0 stays"
    assert result.summary() == f"{line}, 1 input(s) skipped"
    assert repr(result) == f"<RunResult {line}, 1 input(s) skipped>"


def test_the_summary_names_the_scenes_that_saw_no_apron(tmp_path, write_raster, detector):
    import numpy as np

    x0, y0 = 730_485.78 - 600, 4_345_043.01 + 600  # 1.2 km around Sunan's reference point
    kwargs = {"origin": (x0, y0), "gsd": 3.0, "shape": (400, 400)}
    write_raster(tmp_path / "zkpy_20230731T023512.tif", **kwargs)
    clouds = np.zeros((8, 400, 400), np.uint8)  # UDM2 band 1: nowhere clear
    write_raster(tmp_path / "zkpy_20230801T023512.tif", **kwargs)
    write_raster(tmp_path / "zkpy_20230801T023512_udm2.tif", count=8, data=clouds, **kwargs)
    result = pipeline.run(tmp_path, "ZKPY", detector=detector, coregister=False)
    assert result.blind_scenes() == ["zkpy_20230801T023512"]
    assert result.summary() == (
        "ZKPY Pyongyang International Airport: 2 scenes (1 saw no apron, cloud or nodata: "
        "zkpy_20230801T023512), 0 detections, 0 stays"
    )


def test_a_scene_too_coarse_to_show_aircraft_is_named_not_linked(tmp_path, write_raster, detector):
    x0, y0 = 730_485.78 - 600, 4_345_043.01 + 600  # 1.2 km around Sunan's reference point
    write_raster(tmp_path / "zkpy_20230731T023512.tif", origin=(x0, y0), gsd=3.0, shape=(400, 400))
    s2 = write_raster(tmp_path / "zkpy_20230801T023512.tif", origin=(x0, y0), gsd=10.0)
    result = pipeline.run(tmp_path, "ZKPY", detector=detector, coregister=False)
    assert result.scenes["scene_id"].tolist() == ["zkpy_20230731T023512"]
    assert set(result.coverage["scene_id"]) == {"zkpy_20230731T023512"}  # no seen-empty stands
    (error,) = result.errors
    assert str(error).startswith(f"{s2}: GSD 10.0 m is coarser than the 5 m")


def test_overwriting_a_run_removes_its_figures_that_the_new_result_lacks(
    tmp_path, write_raster, detector
):
    """An earlier run's scene.png beside a result with no scene would show what it did not see."""
    write_raster(tmp_path / "imagery" / "zkpy_20230731T023512.tif")
    out = tmp_path / "out"
    first = pipeline.run(tmp_path / "imagery", "ZKPY", detector=detector, coregister=False)
    assert out / "scene.png" in pipeline.write_result(first, out)
    (tmp_path / "none").mkdir()
    empty = pipeline.run(tmp_path / "none", "ZKPY", detector=detector)
    pipeline.write_result(empty, out, overwrite=True)
    assert not (out / "scene.png").exists() and (out / "timeline.png").exists()


def test_a_run_started_again_detects_only_the_scenes_it_did_not_commit(
    tmp_path, write_raster, detector, monkeypatch
):
    """With ``resume_dir`` (``run --out``) each scene is committed as it is done, as the
    batch job does: a run stopped and started again detects only the scenes not committed
    from the same image file by the same settings and aprons; a corrected time needs none."""
    import os

    import geopandas as gpd
    import shapely

    x0, y0 = 730_485.78 - 600, 4_345_043.01 + 600  # 1.2 km around Sunan's reference point
    kwargs = {"origin": (x0, y0), "gsd": 3.0, "shape": (400, 400)}
    images = [
        write_raster(tmp_path / "img" / f"zkpy_2023080{d}T023512.tif", **kwargs) for d in (1, 2)
    ]
    detected: list[str] = []
    inner = pipeline.process_scene

    def counted(scene, *args, **kw):
        detected.append(scene.scene_id)
        return inner(scene, *args, **kw)

    monkeypatch.setattr(pipeline, "process_scene", counted)

    def run(**changes):
        detected.clear()
        options = {"detector": detector, "coregister": False, "resume_dir": tmp_path / "out"}
        return pipeline.run(tmp_path / "img", "ZKPY", **{**options, **changes})

    first = run()
    assert len(detected) == 2 and sorted((tmp_path / "out" / "parts").glob("*.done"))
    again = run()
    assert detected == [] and not again.errors
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.coverage.drop(columns="geometry")),
        pd.DataFrame(first.coverage.drop(columns="geometry")),
    )
    os.utime(images[0], ns=(1, 10**18))  # a new image of the same name
    run()
    assert detected == ["zkpy_20230801T023512"]
    fixed = run(times={"zkpy_20230802T023512": "2023-08-02T05:00:00Z"})  # a time set right
    assert detected == []  # its committed rows take the time, as the batch job's do
    seen = fixed.coverage.loc[fixed.coverage["scene_id"] == "zkpy_20230802T023512", "acquired"]
    assert set(seen) == {pd.Timestamp("2023-08-02T05:00:00Z")}
    apron = shapely.box(x0 + 100, y0 - 500, x0 + 500, y0 - 100)
    run(aprons=gpd.GeoDataFrame({"apron_id": ["a"]}, geometry=[apron], crs="EPSG:32651"))
    assert len(detected) == 2  # other aprons: other tiles
    run(resume_dir=None)
    assert len(detected) == 2


def test_a_run_started_again_after_it_finished_loads_no_detector(
    tmp_path, write_raster, detector, monkeypatch
):
    """``run --out`` started again when every scene is committed by the same settings: the
    stamps are compared with the detector's description (card, device, precision chosen), so
    the network is never built (it was: seconds and hundreds of MB for nothing); nor for a
    folder with no image."""
    import os
    from types import SimpleNamespace

    from dwelltime.detector import DetectorPlan, predict

    planned = DetectorPlan().describe()
    stand_in = SimpleNamespace(gsd_m=0.5, describe=lambda: planned)
    loads: list[object] = []
    monkeypatch.setattr(predict, "load_detector", lambda *a, **k: loads.append(a) or stand_in)
    x0, y0 = 730_485.78 - 600, 4_345_043.01 + 600
    kwargs = {"origin": (x0, y0), "gsd": 3.0, "shape": (400, 400)}
    image = write_raster(tmp_path / "img" / "zkpy_20230801T023512.tif", **kwargs)
    options = {"coregister": False, "resume_dir": tmp_path / "out"}
    announced: list[dict[str, object]] = []
    plan = DetectorPlan(announce=announced.append)

    pipeline.run(tmp_path / "img", "ZKPY", detector=plan, **options)
    assert len(loads) == 1 and announced == [planned]
    again = pipeline.run(tmp_path / "img", "ZKPY", detector=plan, **options)
    assert len(loads) == 1 and len(announced) == 2  # described, not loaded
    assert again.provenance["detector"] == planned and len(again.coverage)
    os.utime(image, ns=(1, 10**18))  # a new image: detected again, so loaded
    pipeline.run(tmp_path / "img", "ZKPY", detector=plan, **options)
    assert len(loads) == 2
    (tmp_path / "none").mkdir()  # no scene to detect in: described, never loaded
    empty = pipeline.run(tmp_path / "none", "ZKPY", detector=plan, coregister=False)
    assert len(loads) == 2 and empty.provenance["detector"] == planned and empty.stays.empty


def test_figures_are_written_in_the_figure_format_asked(tmp_path):
    """``figure_format="pdf"``: every figure a PDF, the folder still read as a result; written
    again as PNG with ``overwrite``, the PDFs go (the folder holds one result); an unknown
    format is refused before anything is written."""
    from dwelltime.plot import REPORT_FIGURES
    from dwelltime.scenes import scenes_frame

    made = replace(one_sighting_result({"link": {}}), scenes=scenes_frame([]))
    out = tmp_path / "out"
    paths = pipeline.write_result(made, out, figure_format="pdf")
    pdfs = [out / f"{name}.pdf" for name in REPORT_FIGURES if name != "scene"]  # no scenes
    assert set(pdfs) <= set(paths) and all(p.read_bytes()[:4] == b"%PDF" for p in pdfs)
    assert not list(out.glob("*.png"))
    assert pipeline.read_result(out / "timeline.pdf").stays["stay_id"].tolist() == ["ZKPY-0001"]
    pipeline.write_result(made, out, overwrite=True)
    assert not list(out.glob("*.pdf")) and (out / "timeline.png").exists()
    with pytest.raises(ValueError, match="unknown figure format 'jpg'; choose from png, svg, pdf"):
        pipeline.write_result(made, tmp_path / "other", figure_format="jpg")
    assert not (tmp_path / "other").exists()


def test_a_full_disk_while_saving_a_figure_names_it_and_leaves_no_half_file(
    tmp_path, write_raster, detector, monkeypatch
):
    import errno

    from matplotlib.figure import Figure

    from dwelltime.errors import OutputFolderError

    write_raster(tmp_path / "imagery" / "zkpy_20230731T023512.tif")
    result = pipeline.run(tmp_path / "imagery", "ZKPY", detector=detector, coregister=False)

    def disk_full(self: Figure, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Figure, "savefig", disk_full)
    out = tmp_path / "out"
    with pytest.raises(
        OutputFolderError, match=r"\.png: cannot write it \(No space left on device\)"
    ):
        pipeline.write_result(result, out)
    assert not list(out.glob("*.png"))


def test_the_api_s_user_errors_are_dwelltime_errors_of_the_builtin_kind(tmp_path):
    # read_result raised a bare FileNotFoundError / ValueError, and run(link_config=…) and
    # write_result(formats=…) a bare ValueError, while the other inputs raise DwelltimeErrors:
    # a notebook's `except DwelltimeError` missed them. Each is now both.
    from dwelltime.errors import DwelltimeError

    (tmp_path / "notes.txt").write_text("not a result")
    made = one_sighting_result({"link": {}, "inputs": {"airport": "ZKPY"}})
    calls = {
        FileNotFoundError: [
            lambda: pipeline.read_result(tmp_path / "missing"),
            lambda: pipeline.read_result(tmp_path),  # a folder without a result
            lambda: read_layer(tmp_path / "stays.csv"),
        ],
        ValueError: [
            lambda: pipeline.read_result(tmp_path / "notes.txt"),
            lambda: pipeline.run(tmp_path, "ZKPY", link_config={"max_gap_h": -1}),
            lambda: pipeline.run(tmp_path, "ZKPY", link_config={"max_gapp_h": 24}),
            lambda: made.relink(max_gap_h="24"),
            lambda: pipeline.write_result(made, tmp_path / "out", formats=("shp",)),
            lambda: pipeline.write_result(made, tmp_path / "out", figure_format="jpg"),
        ],
    }
    for builtin, raising in calls.items():
        for call in raising:
            with pytest.raises(builtin) as error:
                call()
            assert isinstance(error.value, DwelltimeError), error.value

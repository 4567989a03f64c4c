"""The batch job end to end with the shipped detector on three scenes of the Sunan demo."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dwelltime.batch.runner import run_batch
from dwelltime.batch.spec import load_spec

NO_IMAGE_FILE = (
    "no image file (.tif, .tiff, .jp2, .ntf, .nitf, .vrt, .til, .png, .jpg, .jpeg) under it"
)
SCENES = ("zkpy_04", "zkpy_05_20230801T020555", "zkpy_07")
TABLES = ("detections.csv", "coverage.csv", "stays.csv", "scenes.csv", "run.json")


@pytest.fixture(scope="module")
def small_series(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three demo scenes (with their time sidecars) and the demo aprons."""
    folder = tmp_path_factory.mktemp("batch_series")
    (folder / "imagery").mkdir()
    for path in (demo_dir / "imagery").iterdir():
        if path.name.startswith(SCENES):
            shutil.copy(path, folder / "imagery" / path.name)
    shutil.copy(demo_dir / "aprons.geojson", folder / "aprons.geojson")
    return folder


def job(folder: Path, output: str, extra: str = "", workers: int = 0) -> Path:
    path = folder / f"{output}.yaml"
    path.write_text(
        f"output: {output}\nworkers: {workers}\nbatch_size: 4\n{extra}"
        "jobs:\n  - {airport: ZKPY, imagery: imagery, aprons: aprons.geojson}\n"
    )
    return path


def children(pid: int) -> list[int]:
    """Process ids of ``pid``'s children (Linux /proc)."""
    return [
        int(c) for f in Path(f"/proc/{pid}/task").glob("*/children") for c in f.read_text().split()
    ]


def tables(folder: Path) -> dict[str, bytes]:
    return {name: (folder / "ZKPY" / name).read_bytes() for name in TABLES}


@pytest.fixture(scope="module")
def uninterrupted(small_series: Path) -> Path:
    summary = run_batch(load_spec(job(small_series, "straight")))
    assert summary.airports[0].done == len(SCENES)
    return small_series / "straight"


def test_batch_writes_the_run_outputs_and_a_combined_table(uninterrupted: Path):
    assert b"IL62" in (uninterrupted / "ZKPY" / "detections.csv").read_bytes()
    assert (uninterrupted / "ZKPY" / "dwelltime.gpkg").exists()
    assert (uninterrupted / "ZKPY" / "timeline.png").exists()
    made = json.loads((uninterrupted / "ZKPY" / "run.json").read_text())
    assert made["detector"]["weights"].endswith(".safetensors") and made["type_filter"] is None
    combined = pd.read_csv(uninterrupted / "all_stays.csv")
    assert (combined["stay_id"].str.startswith("ZKPY-")).sum() >= 1
    assert set(combined["xy_crs"]) == {"EPSG:32651"}  # lon/lat geometry, x/y in UTM 51N


@pytest.mark.parametrize(("finishers", "workers"), [(0, 0), (1, 2)], ids=["thread", "processes"])
def test_killed_job_resumes_to_the_same_tables(
    small_series: Path, uninterrupted: Path, finishers: int, workers: int, hang_after_first_commit
):
    """Killed after its first commit (everything in one process; or post-processing in a
    finisher process and reading in reader processes with their tile ring), then run again:
    the finished scene is skipped, no process is left behind and the tables come out the
    same."""
    name = f"killed_{finishers}_{workers}"
    spec = job(small_series, name, f"finishers: {finishers}\n", workers=workers)
    parts = small_series / name / "ZKPY" / "parts"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dwelltime", "-q", "batch", str(spec)],
        env=hang_after_first_commit(small_series / f"{name}_hook"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not list(parts.glob("*.done")) and proc.poll() is None:
            time.sleep(0.05)
        helpers = children(proc.pid)  # finisher and reader processes, the tracker
        os.kill(proc.pid, signal.SIGKILL)  # mid-job: hung after the first scene's commit
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job ended before it was killed"
    assert len(list(parts.glob("*.done"))) == 1
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in helpers if Path(f"/proc/{pid}").exists()], "orphans left"

    summary = run_batch(load_spec(spec))
    assert (summary.airports[0].skipped, summary.airports[0].done) == (1, len(SCENES) - 1)
    assert tables(small_series / name) == tables(uninterrupted)


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_prints_the_summary_once_and_logs_it(small_series: Path, quiet: bool):
    spec = job(small_series, f"cli_{quiet}")
    args = [sys.executable, "-m", "dwelltime", *(["-q"] if quiet else []), "batch", str(spec)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    assert (out.stdout + out.stderr).count(f"total: {len(SCENES)} scenes done") == 1
    log = (small_series / f"cli_{quiet}" / "batch.log").read_text()
    assert f"total: {len(SCENES)} scenes done" in log
    made = json.loads((small_series / f"cli_{quiet}" / "ZKPY" / "run.json").read_text())
    detector = made["detector"]  # the log says which precision `auto` chose
    assert f"<Detector {detector['weights']} on cpu, {detector['precision']}, " in log
    n = len(SCENES)  # a line per scene: what became of it, how long since the one before
    done = re.findall(
        rf"ZKPY: zkpy_\S+\.tif done, \d+ tiles in \d+\.\d s \((\d) of {n} scenes\)", log
    )
    assert done == [str(k) for k in range(1, n + 1)]
    assert (f"the log: {small_series / f'cli_{quiet}' / 'batch.log'}" in out.stderr) != quiet


def test_finisher_processes_give_the_same_tables(small_series: Path, uninterrupted: Path):
    """Reader and finisher processes both: payloads read in one process (tensors in shared
    memory) are post-processed in another."""
    summary = run_batch(load_spec(job(small_series, "processes", "finishers: 2\n", workers=1)))
    assert summary.airports[0].done == len(SCENES) and summary.airports[0].tiles > 0
    assert tables(small_series / "processes") == tables(uninterrupted)


def test_the_detector_is_warmed_up_at_the_jobs_batch_and_tile_size_first(
    small_series: Path, monkeypatch
):
    from dwelltime.batch import runner
    from dwelltime.detector.predict import Detector

    calls = []
    monkeypatch.setattr(Detector, "warm_up", lambda self, *a: calls.append(("warm_up", *a)))
    commit = runner.SceneStore.commit
    monkeypatch.setattr(
        runner.SceneStore, "commit", lambda *a: calls.append("commit") or commit(*a)
    )
    run_batch(load_spec(job(small_series, "warmed", "tile_size_px: 256\n")))
    assert calls[0] == ("warm_up", 4, 256) and calls[1:] == ["commit"] * len(SCENES)


def test_failed_scene_is_recorded_and_retried(
    small_series: Path, uninterrupted, monkeypatch, caplog
):
    import dwelltime.batch.feed as feed

    real = feed.iter_tiles

    def broken(scene, *args):
        if scene.scene_id == "zkpy_07":
            raise OSError("read error in band 2")
        return real(scene, *args)

    monkeypatch.setattr(feed, "iter_tiles", broken)
    spec = load_spec(job(small_series, "failing"))
    summary = run_batch(spec)
    assert (summary.airports[0].done, summary.airports[0].failed) == (2, 1)
    failed = (small_series / "failing" / "ZKPY" / "parts" / "zkpy_07.failed.json").read_text()
    assert "read error in band 2" in failed and "zkpy_07" in failed

    caplog.clear()
    assert run_batch(spec).airports[0].failed == 1  # not retried without asking
    (line,) = [r.getMessage() for r in caplog.records if "earlier run" in r.getMessage()]
    assert "zkpy_07" in line and "--retry-failed" in line and "read error in band 2" in line
    monkeypatch.setattr(feed, "iter_tiles", real)
    summary = run_batch(spec, retry_failed=True)
    assert (summary.airports[0].done, summary.airports[0].failed) == (1, 0)
    assert tables(small_series / "failing") == tables(uninterrupted)


def finish_or_die(folder, payload, *args):
    """Stands in for the runner's ``_finish_scene`` in a finisher process: zkpy_07 kills it."""
    import dwelltime.batch.runner as runner

    if payload.scene.scene_id == "zkpy_07":
        os._exit(9)
    return runner._finish_scene(folder, payload, *args)


def test_a_dead_finisher_process_fails_its_scene_only(
    small_series: Path, uninterrupted: Path, monkeypatch
):
    import dwelltime.batch.runner as runner

    monkeypatch.setattr(runner, "_finish_scene", finish_or_die)  # pickled by its own name
    spec = load_spec(job(small_series, "dying", "finishers: 1\n"))
    summary = run_batch(spec)
    assert (summary.airports[0].done, summary.airports[0].failed) == (2, 1)
    failed = (small_series / "dying" / "ZKPY" / "parts" / "zkpy_07.failed.json").read_text()
    assert "BrokenProcessPool" in failed
    monkeypatch.undo()
    assert run_batch(spec, retry_failed=True).airports[0].done == 1
    assert tables(small_series / "dying") == tables(uninterrupted)


def test_dask_local_cluster_gives_the_same_tables(small_series: Path, uninterrupted: Path):
    """Same scenes, detections and stays; floats agree to rounding only, since Dask workers
    run torch with one thread (a different summation order)."""
    pytest.importorskip("distributed")
    extra = "scheduler: local\nformats: [csv, parquet]\n"
    summary = run_batch(load_spec(job(small_series, "dask", extra)))
    assert summary.airports[0].done == len(SCENES)
    written = {p.suffix for p in (small_series / "dask" / "ZKPY").iterdir()}
    assert {".csv", ".parquet"} <= written and ".gpkg" not in written  # the job's formats
    for name, keys in (("detections", ["scene_id", "x"]), ("stays", ["first_seen", "x"])):
        got, want = (
            pd.read_csv(folder / "ZKPY" / f"{name}.csv").sort_values(keys, ignore_index=True)
            for folder in (small_series / "dask", uninterrupted)
        )
        pd.testing.assert_frame_equal(
            got.drop(columns=["geometry", "detection_id", "detection_ids"], errors="ignore"),
            want.drop(columns=["geometry", "detection_id", "detection_ids"], errors="ignore"),
            check_exact=False,
            rtol=1e-4,
        )


def test_a_dask_job_starts_one_cluster_for_every_airport(
    small_series: Path, monkeypatch: pytest.MonkeyPatch
):
    """`scheduler: local` started and stopped a LocalCluster for each airport, whose workers
    loaded the model again each time: one cluster now serves the whole job."""
    distributed = pytest.importorskip("distributed")
    from dwelltime.batch import runner

    started = []

    def cluster(**kwargs: object) -> object:  # threads of this process, so the task below runs
        started.append(kwargs)
        return real(**{**kwargs, "processes": False})

    real = distributed.LocalCluster
    monkeypatch.setattr(distributed, "LocalCluster", cluster)
    monkeypatch.setattr(runner, "_scene_task", lambda *args: "not detected in this test")
    path = small_series / "dask_twice.yaml"
    path.write_text(
        "output: dask_twice\nscheduler: local\nbatch_size: 4\njobs:\n"
        "  - {airport: ZKPY, imagery: imagery, aprons: aprons.geojson}\n"
        "  - {airport: SUNAN-2, imagery: imagery, aprons: aprons.geojson}\n"
    )
    summary = run_batch(load_spec(path))
    assert [a.failed for a in summary.airports] == [len(SCENES), len(SCENES)]
    assert len(started) == 1


def test_a_scene_whose_dask_workers_died_fails_alone(
    small_series: Path, monkeypatch: pytest.MonkeyPatch
):
    """A scene that killed its Dask workers (out of memory) ended the whole job in a
    KilledWorker traceback; it is now recorded as failed, as a dead finisher's scene is, and
    the other scenes are committed."""
    from types import SimpleNamespace

    distributed = pytest.importorskip("distributed")
    from dwelltime.batch import runner

    def task(scene, *args):
        if scene.scene_id == "zkpy_07":
            raise distributed.KilledWorker(scene.scene_id, SimpleNamespace(address="tcp://w"), 3)
        return real(scene, *args)

    real = runner._scene_task
    monkeypatch.setattr(runner, "_scene_task", task)
    cluster = distributed.LocalCluster  # threads of this process, so `task` is what runs
    monkeypatch.setattr(distributed, "LocalCluster", lambda **k: cluster(**k, processes=False))
    summary = run_batch(load_spec(job(small_series, "killed", "scheduler: local\n")))
    assert (summary.airports[0].done, summary.airports[0].failed) == (len(SCENES) - 1, 1)
    failed = small_series / "killed" / "ZKPY" / "parts" / "zkpy_07.failed.json"
    assert json.loads(failed.read_text())["error"].startswith("KilledWorker: ")


def test_a_scheduler_that_cannot_be_reached_is_one_line(small_series: Path):
    """It was distributed's traceback (OSError: Timed out trying to connect…), after the
    model had loaded; the job now stops with one line naming the address."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from dwelltime.batch.runner import SchedulerError

    spec = load_spec(job(small_series, "unreachable", "scheduler: tcp://127.0.0.1:1\n"))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(SchedulerError, match=r"^scheduler tcp://127.0.0.1:1: cannot connect"):
            run_batch(spec)


def test_a_device_this_machine_cannot_use_stops_the_job_before_any_scan(
    small_series: Path, monkeypatch: pytest.MonkeyPatch
):
    """`device: gpu` (or cuda where there is none) was refused only once every job's imagery
    had been scanned, minutes into a large job: the detector's settings are now checked
    first, in one line."""
    from dwelltime.batch import runner
    from dwelltime.errors import SettingsError

    monkeypatch.setattr(runner, "scan", lambda *a, **k: pytest.fail("scanned first"))
    with pytest.raises(SettingsError, match=r"^device 'gpu': "):
        run_batch(load_spec(job(small_series, "no_gpu", "device: gpu\n")))


def test_a_job_with_missing_imagery_is_not_run_and_the_others_are(
    small_series: Path, uninterrupted: Path
):
    """UUEE's imagery folder is missing: named in the summary, not run; ZKPY runs, and its
    unreadable file is named as unusable, not failed (trying again cannot mend it)."""
    shutil.copytree(uninterrupted, small_series / "mixed")
    shutil.copytree(small_series / "imagery", small_series / "imagery_broken")
    (small_series / "imagery_broken" / "broken.tif").write_bytes(b"not a tiff")
    path = small_series / "mixed.yaml"
    path.write_text(
        "output: mixed\nworkers: 0\njobs:\n  - {airport: UUEE, imagery: nosuch}\n"
        "  - {airport: ZKPY, imagery: imagery_broken, aprons: aprons.geojson}\n"
    )
    summary = run_batch(load_spec(path))
    zkpy, uuee = summary.airports
    assert (zkpy.airport, zkpy.skipped, zkpy.failed, zkpy.problem) == ("ZKPY", 3, 0, None)
    assert zkpy.unusable == ["broken.tif"]
    assert not list((small_series / "mixed" / "ZKPY" / "parts").glob("broken*"))
    record = json.loads((small_series / "mixed" / "ZKPY" / "run.json").read_text())
    (skipped,) = record["skipped"]  # the run's record names what its tables lack, and why
    assert skipped["path"] == str(small_series / "imagery_broken" / "broken.tif")
    assert skipped["reason"]
    assert uuee.airport == "UUEE" and str(small_series / "nosuch") in uuee.problem
    assert not (small_series / "mixed" / "UUEE").exists()
    assert summary.failed  # exit status 1
    text = summary.text().splitlines()
    assert text[0].endswith("; 1 unusable file skipped (broken.tif)")
    assert text[1].startswith(f"UUEE: not run: {small_series / 'nosuch'}: ")
    assert text[2].endswith("0 failed, 1 unusable file, 1 job not run (inputs unreadable)")
    assert "0 scenes done, 0 tiles in " in text[2]  # a rerun: the rate says what it spans
    assert "tiles/s, scanning and model loading included" in text[2]
    for name in ("detections.csv", "stays.csv"):  # scenes.csv: another imagery folder
        assert (small_series / "mixed" / "ZKPY" / name).read_bytes() == (
            uninterrupted / "ZKPY" / name
        ).read_bytes()
    assert (small_series / "mixed" / "all_stays.csv").read_text().count("ZKPY-") >= 1


def test_a_job_not_run_keeps_its_earlier_stays_in_the_combined_table(
    small_series: Path, uninterrupted: Path
):
    """ZKPY ran before; now its imagery is gone and UUEE's folder holds no image: neither
    runs, and the combined table still holds ZKPY's stays, as its folder does."""
    shutil.copytree(uninterrupted, small_series / "kept")
    (small_series / "no_scenes").mkdir()
    path = small_series / "kept.yaml"
    path.write_text(
        "output: kept\nworkers: 0\njobs:\n  - {airport: ZKPY, imagery: gone}\n"
        "  - {airport: UUEE, imagery: no_scenes}\n"
    )
    jobs = {a.airport: a for a in run_batch(load_spec(path)).airports}
    uuee, zkpy = jobs["UUEE"], jobs["ZKPY"]
    assert uuee.problem == f"{small_series / 'no_scenes'}: " + NO_IMAGE_FILE
    assert "gone" in zkpy.problem
    combined, before = (
        pd.read_csv(f / "all_stays.csv") for f in (small_series / "kept", uninterrupted)
    )
    assert list(combined["stay_id"]) == list(before["stay_id"]) != []
    assert set(combined["xy_crs"]) == {"EPSG:32651"}


def test_jobs_with_an_empty_folder_or_only_unusable_files_are_not_run(
    small_series: Path, uninterrupted: Path, capsys: pytest.CaptureFixture[str]
):
    """Three airports: UUEE's folder is empty, UUWW's files are all unreadable, ZKPY's are
    good. ZKPY completes; the two others are each named in one line as `dwelltime run` names
    them (no image file, no usable scene), not run (no empty tables over earlier ones) and the
    exit status is 1."""
    shutil.copytree(uninterrupted, small_series / "three")
    (small_series / "three" / "UUEE").mkdir()
    (small_series / "three" / "UUEE" / "timeline.png").write_text("an earlier run's")
    (small_series / "empty").mkdir()
    (small_series / "unreadable").mkdir()
    for name in ("uuww_20230801.tif", "uuww_20230802.tif"):
        (small_series / "unreadable" / name).write_bytes(b"not a tiff")
    path = small_series / "three.yaml"
    path.write_text(
        "output: three\nworkers: 0\njobs:\n  - {airport: UUEE, imagery: empty}\n"
        "  - {airport: UUWW, imagery: unreadable}\n"
        "  - {airport: ZKPY, imagery: imagery, aprons: aprons.geojson}\n"
    )
    args = [sys.executable, "-m", "dwelltime", "-q", "batch", str(path)]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"ZKPY: {len(SCENES)} scenes, 0 done, {len(SCENES)} skipped")
    assert lines[1] == f"UUEE: not run: {small_series / 'empty'}: " + NO_IMAGE_FILE
    assert lines[2] == (
        f"UUWW: not run: no usable scene in {small_series / 'unreadable'} "
        "(2 unusable files: uuww_20230801.tif, uuww_20230802.tif)"
    )
    assert ", 2 unusable files, 2 jobs not run" in lines[3]
    log = (small_series / "three" / "batch.log").read_text()
    assert log.count("no usable scene in") == 1 + 1  # UUWW's error line, then the summary
    assert log.count(NO_IMAGE_FILE) == 1 + 1  # UUEE's
    assert (small_series / "three" / "UUEE" / "timeline.png").read_text() == "an earlier run's"
    assert not (small_series / "three" / "UUWW" / "stays.csv").exists()
    assert (small_series / "three" / "ZKPY" / "stays.csv").read_bytes() == (
        uninterrupted / "ZKPY" / "stays.csv"
    ).read_bytes()


def test_an_emptied_imagery_folder_is_not_run_and_its_tables_are_kept(
    small_series: Path, uninterrupted: Path
):
    """ZKPY's folder holds no image now (a share not mounted): the job is not run, said in
    one line naming the folder and the kinds looked for, exit status 1; its tables and the
    combined table stay as the earlier run wrote them, not emptied."""
    shutil.copytree(uninterrupted, small_series / "emptied")
    (small_series / "unmounted").mkdir()
    path = small_series / "emptied.yaml"
    path.write_text("output: emptied\nworkers: 0\njobs:\n  - {airport: ZKPY, imagery: unmounted}\n")
    summary = run_batch(load_spec(path))
    (zkpy,) = summary.airports
    assert zkpy.problem == f"{small_series / 'unmounted'}: " + NO_IMAGE_FILE
    assert summary.failed  # exit status 1, as `run` on that folder
    assert tables(small_series / "emptied") == tables(uninterrupted)
    assert (small_series / "emptied" / "all_stays.csv").read_text().count("ZKPY-") >= 1


def test_a_jobs_linking_rules_link_its_committed_scenes(
    small_series: Path, uninterrupted: Path, caplog: pytest.LogCaptureFixture
):
    """``link``: sightings over 12 h apart never join (the demo scenes are 20-24 h apart),
    so every stay is one sighting; the rules are recorded, and one log line says which
    changed since the earlier run (no scene is detected again)."""
    shutil.copytree(uninterrupted, small_series / "gapped")
    rules = "link: {max_gap_h: 12, rejoin_gaps: false}\n"
    with caplog.at_level(logging.INFO, logger="dwelltime.batch.runner"):
        summary = run_batch(load_spec(job(small_series, "gapped", rules)))
    (line,) = [r.getMessage() for r in caplog.records if "linked again" in r.getMessage()]
    assert line.startswith("ZKPY: stays linked again by other settings than the earlier run's: ")
    assert "max_gap_h 72.0 → 12" in line and "rejoin_gaps True → False" in line
    assert summary.airports[0].done == 0
    stays = {
        f: pd.read_csv(f / "ZKPY" / "stays.csv") for f in (uninterrupted, small_series / "gapped")
    }
    before, after = stays.values()
    assert summary.airports[0].stays == len(after) > len(before)
    assert after["n_seen"].max() == 1 < before["n_seen"].max()
    made = json.loads((small_series / "gapped" / "ZKPY" / "run.json").read_text())
    assert made["link"]["max_gap_h"] == 12


def test_a_job_run_again_with_nothing_to_detect_loads_no_detector(
    small_series: Path, uninterrupted: Path, monkeypatch: pytest.MonkeyPatch
):
    """A finished job run again (to relink it, or by mistake) built the network first, seconds
    and hundreds of MB for nothing: the stamps are now compared with the detector's
    description (DetectorPlan), and run.json records the same detector."""
    from dwelltime.detector import predict

    shutil.copytree(uninterrupted, small_series / "again")
    monkeypatch.setattr(predict, "load_detector", lambda *a, **k: 1 / 0)
    summary = run_batch(load_spec(job(small_series, "again")))
    assert summary.airports[0].done == 0 and summary.airports[0].stays
    made = [
        json.loads((f / "ZKPY" / "run.json").read_text())
        for f in (uninterrupted, small_series / "again")
    ]
    assert made[0]["detector"] == made[1]["detector"]


def test_a_jobs_date_range_leaves_the_other_scenes_out_of_its_tables(
    small_series: Path, uninterrupted: Path, caplog: pytest.LogCaptureFixture
):
    """``start``/``end`` narrowed over a finished job: the scene acquired before ``start`` is
    left out of every table (committed, it is not detected again, nor named as gone), counted
    in one log line; the ``end`` date takes in the whole of its day."""
    shutil.copytree(uninterrupted, small_series / "ranged")
    acquired = pd.to_datetime(pd.read_csv(uninterrupted / "ZKPY" / "scenes.csv")["acquired"])
    first, last = acquired.min(), acquired.max()
    start = (first + pd.Timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = small_series / "ranged.yaml"
    path.write_text(
        "output: ranged\nworkers: 0\nbatch_size: 4\njobs:\n  - {airport: ZKPY, imagery: imagery, "
        f"aprons: aprons.geojson, start: '{start}', end: {last:%Y-%m-%d}}}\n"
    )
    with caplog.at_level(logging.INFO, logger="dwelltime.batch.runner"):
        summary = run_batch(load_spec(path))
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert line.startswith("ZKPY: 1 of 3 scenes left out: acquired outside the job's range (from")
    assert summary.airports[0].scenes == 2 and summary.airports[0].done == 0
    out = small_series / "ranged" / "ZKPY"
    for name in ("scenes.csv", "coverage.csv", "detections.csv"):
        times = pd.to_datetime(pd.read_csv(out / name)["acquired"])
        assert len(times) and times.min() > first, name
    assert sorted(pd.to_datetime(pd.read_csv(out / "scenes.csv")["acquired"])) == sorted(
        acquired[acquired > first]
    )
    made = json.loads((out / "run.json").read_text())["inputs"]
    assert made["start"] == pd.Timestamp(start).isoformat()
    assert made["end"] == f"{last:%Y-%m-%d}T23:59:59.999999999+00:00"


def test_a_job_with_no_scene_in_its_date_range_is_not_run(small_series: Path):
    path = small_series / "before.yaml"
    path.write_text(
        "output: before\njobs:\n"
        "  - {airport: ZKPY, imagery: imagery, aprons: aprons.geojson, end: 2000-01-01}\n"
    )
    summary = run_batch(load_spec(path))
    assert summary.failed and summary.airports[0].problem == (
        "none of its 3 scenes over the aprons was acquired in the job's range "
        "(to 2000-01-01 23:59:59 UTC)"
    )


def test_committed_scenes_take_a_flight_log_and_corrected_times(
    small_series: Path, uninterrupted: Path
):
    """The job's committed scenes linked again with flight logs and a times CSV: the job's
    own log (an Il-62 arrival after the last visible absence) bounds the Il-62's arrival, in
    place of the job-wide one (another airport's movements only), and a scene's corrected
    time holds for its committed rows, without detecting it again."""
    shutil.copytree(uninterrupted, small_series / "flown")
    (small_series / "adsb.csv").write_text(
        "time,airport,event,type\n2023-07-31T20:00:00Z,UUEE,arr,IL62\n"
    )
    (small_series / "sunan.csv").write_text(
        "time,airport,event,type\n2023-07-31T20:00:00Z,ZKPY,arr,IL62\n"
    )
    (small_series / "t.csv").write_text("stem,acquired\nzkpy_07,2023-08-02T03:00:00Z\n")
    spec = job(small_series, "flown", "flights: adsb.csv\n")
    own = "aprons.geojson, flights: sunan.csv, times: t.csv}"
    spec.write_text(spec.read_text().replace("aprons.geojson}", own))
    summary = run_batch(load_spec(spec))
    assert summary.airports[0].skipped == len(SCENES)  # linked again, not detected again

    def il62(folder: Path) -> pd.Series:
        stays = pd.read_csv(folder / "ZKPY" / "stays.csv")
        (row,) = stays[stays["type"] == "IL62"].itertuples(index=False)
        return pd.Series(row._asdict())

    before, after = il62(uninterrupted), il62(small_series / "flown")
    assert before["start_bounded_by"] == "zkpy_04"
    assert after["start_bounded_by"] == "flight:1"
    assert after["last_absent_before"] == "2023-07-31T20:00:00Z"
    assert (before["last_seen"], after["last_seen"]) == (
        "2023-08-02T01:50:02Z",
        "2023-08-02T03:00:00Z",
    )
    detections = pd.read_csv(small_series / "flown" / "ZKPY" / "detections.csv")
    assert set(detections.loc[detections["scene_id"] == "zkpy_07", "acquired"]) == {
        "2023-08-02T03:00:00Z"
    }
    made = json.loads((small_series / "flown" / "ZKPY" / "run.json").read_text())
    assert made["flights"] and made["inputs"]["airport"] == "ZKPY"
    for name, path in (("aprons", "aprons.geojson"), ("flights", "sunan.csv"), ("times", "t.csv")):
        assert made["inputs"][name]["path"] == str((small_series / path).resolve()), name
    aprons = json.loads((small_series / "aprons.geojson").read_text())["features"]
    assert made["inputs"]["apron_set"]["count"] == len(aprons)

    written = tables(small_series / "flown")
    combined = (small_series / "flown" / "all_stays.csv").read_bytes()
    spec.write_text(spec.read_text().replace("sunan.csv", "nowhere.csv"))
    (problem,) = [a.problem for a in run_batch(load_spec(spec)).airports]
    assert "nowhere.csv" in problem
    (small_series / "t.csv").write_text("stem,acquired\nzkpy_07,soon\n")
    (problem,) = [a.problem for a in run_batch(load_spec(spec)).airports]
    assert "t.csv: line 2" in problem
    assert tables(small_series / "flown") == written  # a job not run loses nothing
    assert (small_series / "flown" / "all_stays.csv").read_bytes() == combined  # nor there


@pytest.mark.parametrize("change", ["image", "settings", "aprons", "bands"])
def test_a_committed_scene_made_from_another_image_or_settings_is_detected_again(
    small_series: Path, uninterrupted: Path, tmp_path: Path, caplog, change: str
):
    """A committed scene whose image was replaced by another file of the same name, or whose
    results other weights, other aprons or other bands made, is detected again (the log names
    it and why); the others are kept."""
    shutil.copytree(small_series / "imagery", tmp_path / "imagery")  # times kept (copy2)
    shutil.copy(small_series / "aprons.geojson", tmp_path)
    shutil.copytree(uninterrupted, tmp_path / "out")
    image = next((tmp_path / "imagery").glob("zkpy_07*.tif"))
    if change == "image":
        os.utime(image, ns=(time.time_ns(), time.time_ns()))
    else:
        marker = tmp_path / "out" / "ZKPY" / "parts" / "zkpy_07.done"
        stamp = json.loads(marker.read_text())
        if change == "settings":
            stamp["settings"]["sha256"] = "0" * 64  # made by other weights
        elif change == "aprons":
            stamp["aprons"] = "0" * 64
        else:
            stamp["read"]["rgb_bands"] = [3, 2, 1]
        marker.write_text(json.dumps(stamp))
    summary = run_batch(load_spec(job(tmp_path, "out")))
    assert (summary.airports[0].done, summary.airports[0].skipped) == (1, len(SCENES) - 1)
    assert "1 committed scenes detected again" in caplog.text and image.name in caplog.text
    why = {"image": "image file", "settings": "detection settings", "bands": "bands"}
    assert why.get(change, change) in caplog.text
    if change == "settings":  # and which: it said only "other detection settings made them"
        assert f"sha256 {'0' * 64} → 33ae3c77" in caplog.text
    for name in ("detections.csv", "coverage.csv", "stays.csv"):  # scenes.csv: other paths
        assert (tmp_path / "out" / "ZKPY" / name).read_bytes() == (
            uninterrupted / "ZKPY" / name
        ).read_bytes(), name


def test_scenes_committed_before_their_stamp_held_aprons_and_bands_are_kept(
    small_series: Path, uninterrupted: Path, tmp_path: Path
):
    """Stamps written before they held the aprons and how the scene was read (mask, bands):
    a resumed job takes those parts as unchanged, not every scene as detected by other
    settings."""
    shutil.copytree(small_series / "imagery", tmp_path / "imagery")  # times kept (copy2)
    shutil.copy(small_series / "aprons.geojson", tmp_path)
    shutil.copytree(uninterrupted, tmp_path / "out")
    for marker in (tmp_path / "out" / "ZKPY" / "parts").glob("*.done"):
        stamp = json.loads(marker.read_text())
        marker.write_text(json.dumps({k: stamp[k] for k in ("image", "settings")}))
    summary = run_batch(load_spec(job(tmp_path, "out")))
    assert (summary.airports[0].done, summary.airports[0].skipped) == (0, len(SCENES))


def test_a_committed_scene_whose_image_was_removed_is_left_out_of_the_tables(
    small_series: Path, uninterrupted: Path, tmp_path: Path, caplog
):
    """An image taken out of the job's folder after its scene was committed: its detections
    and coverage leave the tables (the log names it), the other scenes are not redone."""
    shutil.copytree(small_series / "imagery", tmp_path / "imagery")  # times kept (copy2)
    shutil.copy(small_series / "aprons.geojson", tmp_path)
    shutil.copytree(uninterrupted, tmp_path / "out")
    for path in (tmp_path / "imagery").glob("zkpy_07*"):
        path.unlink()
    summary = run_batch(load_spec(job(tmp_path, "out")))
    assert (summary.airports[0].done, summary.airports[0].skipped) == (0, len(SCENES) - 1)
    assert "1 committed scenes left out of the tables" in caplog.text and "zkpy_07" in caplog.text
    for name in ("detections.csv", "coverage.csv"):
        table = pd.read_csv(tmp_path / "out" / "ZKPY" / name)
        assert "zkpy_07" not in set(table["scene_id"]) and len(table), name


def test_a_second_job_on_the_same_output_is_refused_in_one_line(tmp_path: Path):
    """While a job holds its output folder, another one there stops before reading anything,
    saying which process holds it; the folder is free again once the first one ends."""
    import fcntl

    from dwelltime.batch.runner import OutputInUseError

    spec = job(tmp_path, "out")
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / ".batch.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("process 4242 on workstation")
        held.flush()
        with pytest.raises(OutputInUseError, match=r"another batch job \(process 4242 on work"):
            run_batch(load_spec(spec))
        args = [sys.executable, "-m", "dwelltime", "-q", "batch", str(spec)]
        out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "another batch job" in out.stderr
    (summary,) = run_batch(load_spec(spec)).airports  # free again: runs (no inputs there)
    assert "aprons.geojson" in summary.problem


def test_an_airport_not_in_the_registry_with_unreadable_aprons_is_not_run(tmp_path: Path):
    """A code the registry lacks names its airport by its aprons: when they cannot be read,
    the job is named by that code in the summary, and not run."""
    (tmp_path / "field.geojson").write_text("{ not json")
    path = tmp_path / "job.yaml"
    path.write_text(
        "output: out\njobs:\n  - {airport: kp-x1, imagery: imagery, aprons: field.geojson}\n"
    )
    (job,) = run_batch(load_spec(path)).airports
    assert job.airport == "KP-X1"
    assert job.problem.startswith(f"{tmp_path / 'field.geojson'}: cannot read apron file")


def test_a_jobs_aprons_layer_is_the_layer_read(tmp_path: Path):
    """``aprons_layer`` names the layer of the job's apron file: one the file lacks is the
    job's problem, naming the file and listing its layers (not 'not one that is clearly the
    aprons', which a file of several layers none named like apron was, whatever the job said)."""
    import geopandas as gpd
    import shapely

    square = shapely.box(125.67, 39.224, 125.671, 39.225)
    for layer in ("stands", "parking"):
        gpd.GeoDataFrame(geometry=[square], crs=4326).to_file(tmp_path / "two.gpkg", layer=layer)
    path = tmp_path / "job.yaml"
    path.write_text(
        "output: out\njobs:\n"
        "  - {airport: ZKPY, imagery: imagery, aprons: two.gpkg, aprons_layer: hangars}\n"
    )
    (job,) = run_batch(load_spec(path)).airports
    assert job.problem == (
        f"{tmp_path / 'two.gpkg'}: no layer 'hangars'; its layers: stands (Polygon), "
        "parking (Polygon)"
    )


def test_a_job_with_no_stays_writes_the_combined_table_with_every_stay_column(tmp_path: Path):
    """all_stays.csv with no stays still has the header (and schema) of a full one, so a
    notebook or QGIS project made on a full table opens it."""
    from dwelltime.io import read_layer
    from dwelltime.linking import STAY_EXTRA_COLUMNS
    from dwelltime.schema import STAY_COLUMNS

    (tmp_path / "field.geojson").write_text("{ not json")
    path = tmp_path / "job.yaml"
    path.write_text(
        "output: out\njobs:\n  - {airport: ZKPY, imagery: imagery, aprons: field.geojson}\n"
    )
    run_batch(load_spec(path))
    header = (tmp_path / "out" / "all_stays.csv").read_text(encoding="utf-8-sig").splitlines()
    assert set(header[0].split(",")) == {*STAY_COLUMNS, *STAY_EXTRA_COLUMNS, "xy_crs"}
    back = read_layer(tmp_path / "out" / "all_stays.csv")
    assert back.empty and str(back["n_seen"].dtype) == "int64"


def test_the_combined_table_is_written_in_the_jobs_formats_too(tmp_path: Path):
    """formats: [parquet] gives all_stays.parquet (GeoParquet, typed) beside all_stays.csv."""
    import geopandas as gpd

    from dwelltime.io import read_layer

    (tmp_path / "field.geojson").write_text("{ not json")
    path = tmp_path / "job.yaml"
    path.write_text(
        "output: out\nformats: [parquet]\n"
        "jobs:\n  - {airport: ZKPY, imagery: imagery, aprons: field.geojson}\n"
    )
    run_batch(load_spec(path))
    table = gpd.read_parquet(tmp_path / "out" / "all_stays.parquet")
    assert table.crs == "EPSG:4326" and str(table["first_seen"].dtype) == "datetime64[us, UTC]"
    assert list(table.columns) == list(read_layer(tmp_path / "out" / "all_stays.csv").columns)


def test_temporaries_a_killed_write_left_are_removed_when_the_job_starts_again(tmp_path: Path):
    """A job killed while writing its GeoPackage (or a part, or all_stays) leaves its
    temporary beside the file; the next job on that output removes them, and nothing else."""
    (tmp_path / "field.geojson").write_text("{ not json")
    path = tmp_path / "job.yaml"
    path.write_text(
        "output: out\njobs:\n  - {airport: ZKPY, imagery: imagery, aprons: field.geojson}\n"
    )
    parts = tmp_path / "out" / "ZKPY" / "parts"
    parts.mkdir(parents=True)
    stale = [
        tmp_path / "out" / ".tmp-4242-all_stays.csv",
        tmp_path / "out" / "ZKPY" / ".tmp-4242-dwelltime.gpkg",
        parts / ".tmp-4242-zkpy_04.detections.parquet",
    ]
    kept = [tmp_path / "out" / "ZKPY" / "stays.csv", parts / "zkpy_04.done"]
    for file in stale + kept:
        file.write_text("x")
    run_batch(load_spec(path))
    assert [f for f in stale if f.exists()] == []
    assert all(f.exists() for f in kept)


def test_a_folder_of_pictures_without_georeference_is_said_to_hold_them(tmp_path: Path):
    """Why a job has no scene, for a folder of quicklooks only: its pictures, not "no image
    files there" (a folder without any image file is NoImageError's line)."""
    from dwelltime.batch.runner import _no_scene
    from dwelltime.scenes import ScanResult

    found = ScanResult([], [], [tmp_path / "a.png", tmp_path / "b.jpg"])
    assert _no_scene(tmp_path, found, []) == (
        f"no usable scene in {tmp_path} (2 pictures without georeference)"
    )


def test_the_jobs_figures_are_written_in_its_figure_format(small_series: Path, uninterrupted):
    """``figure_format: pdf`` on a finished job's copy: its figures become PDFs (the committed
    scenes reused), last run's PNGs go."""
    shutil.copytree(uninterrupted, small_series / "as_pdf")
    summary = run_batch(load_spec(job(small_series, "as_pdf", "figure_format: pdf\n")))
    assert summary.airports[0].done == 0  # every scene committed already
    folder = small_series / "as_pdf" / "ZKPY"
    assert (folder / "timeline.pdf").read_bytes()[:4] == b"%PDF"
    assert not list(folder.glob("*.png"))

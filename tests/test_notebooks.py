"""The notebooks run top to bottom on the bundled demo, in a kernel of this interpreter.

The demo series comes from the session fixture ``demo_dir`` (tests/conftest.py), rendered once
per session or reused from ``$DWELLTIME_DEMO_DIR``. Each notebook gets it through a cell
injected after its ``parameters`` cell, as papermill does. The notebooks are committed without
outputs and run with the shipped model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
NAMES = ("01_sunan_il62.ipynb", "02_your_imagery.ipynb")  # each run by a test below
KERNEL = "dwelltime-tests"


@pytest.fixture(scope="session")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one kernelspec that runs this interpreter (not whatever ``python3``
    resolves to on the PATH)."""
    from ipykernel.kernelspec import write_kernel_spec

    root = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(root / KERNEL)
    return root


def run_notebook(name: str | Path, parameters: dict[str, object], kernels: Path, cwd: Path):
    """Execute ``notebooks/<name>`` (or the notebook at the path ``name``) with ``parameters``
    injected; the executed notebook, every code cell of which ran.

    Raises :class:`nbclient.exceptions.CellExecutionError` naming the failing cell, even one
    tagged ``raises-exception``; fails the test when a cell was skipped (``skip-execution``)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged, f"{name} has no cell tagged 'parameters'"
    lines = [
        f"{key} = Path({str(value)!r})" if isinstance(value, Path) else f"{key} = {value!r}"
        for key, value in parameters.items()
    ]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(tagged[0] + 1, injected)
    manager = KernelManager(
        kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    client = nbclient.NotebookClient(
        nb,
        km=manager,
        timeout=600,
        force_raise_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{name}: a code cell did not run"
    return nb


def outputs(nb, kind: str) -> list:
    """All outputs of the code cells carrying MIME type ``kind`` (or stream text for
    ``"stream"``)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind == "stream" and out["output_type"] == "stream":
                found.append(out["text"])
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


def test_every_notebook_is_run_by_a_test():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("tag", [None, "raises-exception", "skip-execution"])
def test_a_run_fails_when_a_cell_raises_or_is_skipped(kernels, tmp_path, tag):
    """A cell that raises fails the run, tagged ``raises-exception`` or not, and so does a
    cell left unrun (tagged ``skip-execution``): a notebook test runs every code cell."""
    from nbclient.exceptions import CellExecutionError

    first = nbformat.v4.new_code_cell("STEP = 0")
    first.metadata["tags"] = ["parameters"]
    broken = nbformat.v4.new_code_cell("raise ValueError('a broken cell')")
    broken.metadata["tags"] = [tag] if tag else []
    nbformat.write(nbformat.v4.new_notebook(cells=[first, broken]), tmp_path / "broken.ipynb")
    with pytest.raises((CellExecutionError, AssertionError), match="broken"):
        run_notebook(tmp_path / "broken.ipynb", {"STEP": 1}, kernels, tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_your_imagery_notebook_names_every_time_source():
    """Its guide to ``time_source`` lists every source a scene's time may come from."""
    from dwelltime.timesources import TIME_SOURCES

    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    prose = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert [s for s in TIME_SOURCES if f"`{s}`" not in prose] == []


def test_sunan_notebook_tells_the_story(demo_dir, kernels, tmp_path):
    cwd = tmp_path / "notebooks"
    cwd.mkdir()
    nb = run_notebook("01_sunan_il62.ipynb", {"DEMO_DIR": demo_dir}, kernels, cwd)
    # scenes, the Il-62M's scene, the cloudy scene, coverage, chips, timeline, Il-62M timeline
    assert len(outputs(nb, "image/png")) >= 7
    text = "".join(outputs(nb, "stream"))
    assert "ZKPY" in text and "10 scenes" in text
    assert any("UTC" in m for m in outputs(nb, "text/markdown"))  # the interval in words
    assert not (tmp_path / "cache").exists()  # the injected DEMO_DIR was used


def test_your_imagery_notebook_reports_what_it_skipped(demo_dir, kernels, tmp_path):
    """A user's folder: four demo scenes with their sidecars and one broken file, with a
    corrected acquisition time (``TIMES``) and a flight log (``FLIGHTS``) that records the
    Il-62M's arrival."""
    folder = tmp_path / "my_images"
    folder.mkdir()
    for stem in ("zkpy_04", "zkpy_05", "zkpy_06", "zkpy_07"):
        for path in (demo_dir / "imagery").glob(f"{stem}*"):
            shutil.copy(path, folder / path.name)
    (folder / "broken.tif").write_bytes(b"not a tiff")
    (tmp_path / "times.csv").write_text("stem,acquired\nzkpy_07,2023-08-02T03:00:00Z\n")
    (tmp_path / "adsb.csv").write_text(
        "time,airport,event,type\n2023-07-31T20:00:00Z,ZKPY,arr,IL62\n"
    )
    parameters = {
        "IMAGERY": folder,
        "APRONS": demo_dir / "aprons.geojson",
        "TYPE": "IL62",
        "TIMES": tmp_path / "times.csv",
        "FLIGHTS": tmp_path / "adsb.csv",
    }
    nb = run_notebook("02_your_imagery.ipynb", parameters, kernels, tmp_path)
    assert len(outputs(nb, "image/png")) >= 6
    text = "".join(outputs(nb, "stream"))
    assert "4 scene(s) found, 1 file(s) unusable" in text
    assert "2023-08-02 03:00" in text  # the Il-62M's last sighting, at the corrected time
    tables = "".join(outputs(nb, "text/plain"))
    assert "broken.tif" in tables
    assert "flight:1" in tables  # what bounds its arrival


def test_your_imagery_notebook_takes_an_airport_the_registry_lacks(
    demo_dir, demo_subset, kernels, tmp_path
):
    """``AIRPORT`` a code the registry does not know, with ``APRONS``: placed at the aprons, as
    ``pipeline.run`` and ``dwelltime run --aprons`` place it, not an UnknownAirportError."""
    parameters = {
        "IMAGERY": demo_subset("zkpy_05", "zkpy_06"),
        "AIRPORT": "XSUN",
        "APRONS": demo_dir / "aprons.geojson",
        "TYPE": None,
    }
    nb = run_notebook("02_your_imagery.ipynb", parameters, kernels, tmp_path)
    text = "".join(outputs(nb, "stream"))
    assert "not in the airport registry" in text and "2 scene(s) found" in text


def test_your_imagery_notebook_states_the_evidence_a_stay_needs():
    """Its note on low scores gives the linking rule and its default, as the README does (not
    "repeated sightings always form stays", which the evidence rule contradicts)."""
    from dwelltime.linking import LinkConfig

    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    prose = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    rule = "1 − Π(1 − score) over its sightings of at least `LinkConfig.min_score_single`"
    assert f"{rule} ({LinkConfig().min_score_single:g}," in prose


def markdown(name: str) -> str:
    """The prose of ``notebooks/<name>``, its markdown cells joined."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_sunan_notebook_lists_the_time_sources_in_their_order_of_trust():
    """It names the ``time_source`` of each file beside the demo's GeoTIFFs in the order
    :data:`~dwelltime.timesources.TIME_SOURCES` trusts them (STAC before provider metadata),
    not in another order it calls the order of trust."""
    from dwelltime.timesources import TIME_SOURCES

    prose = markdown("01_sunan_il62.ipynb")
    named = sorted((prose.index(f"`{s}`"), s) for s in TIME_SOURCES if f"`{s}`" in prose)
    assert [s for _, s in named] == ["stac", "planet_json", "maxar_imd", "gdal_tag", "filename"]


def test_sunan_notebook_describes_the_point_estimate_the_run_makes():
    """Its words on ``dwell_est_h`` name the prior a run weights it by, fitted to the airport's
    own stays by default (``LinkConfig.prior_strength``), not the log-uniform prior alone
    ("short stays likelier than long ones") that the fitted prior replaced."""
    from dwelltime.linking import LinkConfig

    assert LinkConfig().prior_strength is not None  # runs fit the prior by default
    nb = nbformat.read(NOTEBOOKS / "01_sunan_il62.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "fitted_prior" in markdown("01_sunan_il62.ipynb")
    assert "short stays likelier than long ones" not in code


def api_names(nb) -> set[str]:
    """The dotted ``dwelltime`` names a notebook uses: imported in its code cells
    (``dwelltime.plot.plot_chips``), called on ``pipeline`` there, or written in backticks in
    its prose (``dwelltime.io.read_layer``, ``pipeline.read_result``, ``result.relink``)."""
    import ast
    import re

    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and node.module.startswith("dwelltime"):
                    names |= {f"{node.module}.{alias.name}" for alias in node.names}
                elif isinstance(node, ast.Attribute) and getattr(node.value, "id", "") in (
                    "pipeline",
                    "result",
                ):
                    names.add(f"{node.value.id}.{node.attr}")
        names |= set(re.findall(r"`((?:dwelltime|pipeline|result)(?:\.\w+)+)", cell.source))
    return names


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_use_only_api_that_exists(name):
    """Every ``dwelltime`` name a notebook imports, calls or tells of exists (``result``: a
    :class:`~dwelltime.pipeline.RunResult`), checked without running it."""
    import importlib
    from dataclasses import fields

    from dwelltime.pipeline import RunResult

    def exists(dotted: str) -> bool:
        head, *rest = dotted.split(".")
        if head == "result":
            return rest[0] in {f.name for f in fields(RunResult)} or hasattr(RunResult, rest[0])
        parts = (["dwelltime"] if head == "pipeline" else []) + dotted.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                found = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                if not hasattr(found, attr):
                    return False
                found = getattr(found, attr)
            return True
        return False

    names = api_names(nbformat.read(NOTEBOOKS / name, as_version=4))
    assert "pipeline.run" in names and [n for n in sorted(names) if not exists(n)] == []


@pytest.mark.parametrize(("start", "end"), [(True, False), (False, True), (False, False)])
def test_sunan_notebook_words_an_open_interval_without_a_point_estimate(start, end):
    """The Il-62M's interval in words (its cell run on a stay of our own): a stay censored at
    either end has no point estimate (NaN), said so, not written "is **nan h**"; a bounded one
    gets its maximum and its estimate."""
    import pandas as pd

    from dwelltime.synth.demo import IL62_ARRIVAL, IL62_DEPARTURE

    nb = nbformat.read(NOTEBOOKS / "01_sunan_il62.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "def utc(" in c.source)
    t = pd.Timestamp("2023-08-01T02:05:55Z")
    stay = {
        "stay_id": "ZKPY-0009",
        "type": "IL62",
        "type_prob": 0.99,
        "n_seen": 2,
        "first_seen": t,
        "last_seen": t + pd.Timedelta(hours=23.7),
        "last_absent_before": pd.NaT if start else t - pd.Timedelta(hours=20.8),
        "first_absent_after": pd.NaT if end else t + pd.Timedelta(hours=27.5),
        "dwell_min_h": 23.7,
        "dwell_max_h": float("nan") if start or end else 48.3,
        "dwell_est_h": float("nan") if start or end else 33.5,
        "censored_start": start,
        "censored_end": end,
    }
    shown: list[str] = []
    names = {"pd": pd, "IL62_ARRIVAL": IL62_ARRIVAL, "IL62_DEPARTURE": IL62_DEPARTURE}
    names |= {"il62": pd.DataFrame([stay]), "Markdown": str, "display": shown.append}
    exec(cell.source, names)
    assert "nan" not in shown[0]
    if start or end:
        assert "**open**, and there is no point estimate" in shown[0]
    else:
        assert "at most 48.3 h" in shown[0] and "is **33.5 h**" in shown[0]


def test_sunan_notebook_takes_the_stay_on_the_visitors_stand_for_the_il62(tmp_path):
    """Its choice of the Il-62M (its cell run on stays of our own): the stay on the visitor's
    stand, not another stay the model typed IL62 (a resident seen in more scenes); the one
    nearest the stand where none there is typed IL62; none where no stay is near it."""
    from types import SimpleNamespace

    import pandas as pd

    (tmp_path / "truth").mkdir()
    pd.DataFrame({"type": ["T154", "IL62"], "x": [500.0, 100.0], "y": [0.0, 0.0]}).to_csv(
        tmp_path / "truth" / "stays.csv", index=False
    )
    nb = nbformat.read(NOTEBOOKS / "01_sunan_il62.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "stays.csv" in c.source)

    def chosen(types: list[str], x: list[float]) -> list[str]:
        stays = pd.DataFrame(
            {"stay_id": [f"S{i}" for i in range(len(x))], "type": types, "x": x, "y": 0.0}
        ).assign(n_seen=[10, 2, 2][: len(x)])
        shown = ["type_prob", "first_seen", "last_seen", "last_absent_before"]
        shown += ["first_absent_after", "dwell_min_h", "dwell_max_h", "dwell_est_h"]
        stays[shown] = None  # the columns the cell shows
        names = {"pd": pd, "DEMO_DIR": tmp_path, "result": SimpleNamespace(stays=stays)}
        exec(cell.source, names)
        return list(names["il62"]["stay_id"])

    assert chosen(["IL62", "IL62"], [500.0, 105.0]) == ["S1"]
    assert chosen(["IL62", "T204", "IL76"], [500.0, 120.0, 104.0]) == ["S2"]
    assert chosen(["IL62"], [500.0]) == []


def test_your_imagery_notebook_takes_imagery_and_aprons_as_the_api_does(
    tmp_path, monkeypatch, capsys
):
    """Its set-up and inputs cells (run on parameters of our own): ``APRONS`` one layer of a
    file of several as ``pipeline.run(aprons=)`` takes it, ``(file, layer name)``, was a
    TypeError there (``Path`` of a tuple) before the run could take it; ``IMAGERY``
    ``"~/imagery"`` was printed as a folder ``~`` under the notebook's."""
    import geopandas as gpd
    import shapely

    from dwelltime.airports import airport_and_aprons

    monkeypatch.setenv("HOME", str(tmp_path))
    gpkg = tmp_path / "airfield.gpkg"
    for layer, name in (("runways", "R1"), ("stands", "S1")):
        box = shapely.box(125.6700, 39.2240, 125.6705 + 0.001 * (layer == "runways"), 39.2244)
        frame = gpd.GeoDataFrame({"name": [name]}, geometry=[box], crs="EPSG:4326")
        frame.to_file(gpkg, layer=layer)
    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code" and "IMAGERY = Path(" in c.source)
    inputs = next(c for c in nb.cells if "airport_and_aprons(AIRPORT" in c.source)
    names = {"Path": Path, "IMAGERY": "~/imagery", "APRONS": (gpkg, "stands"), "TYPE": None}
    names |= {"AIRPORT": "ZKPY", "airport_and_aprons": airport_and_aprons}
    for cell in (setup, inputs):
        exec("\n".join(s for s in cell.source.splitlines() if not s.startswith("%")), names)
    assert f"imagery: {tmp_path / 'imagery'}\n" in capsys.readouterr().out
    assert names["aprons"]["apron_id"].tolist() == ["S1"]


@pytest.mark.parametrize("kept", [1, 0])
def test_your_imagery_notebook_draws_the_timeline_as_the_run_does(kept):
    """Its timeline cell (run with a stand-in ``plot_timeline``) draws by the run's linking
    rules and, with ``FLIGHTS``, the log's movements, as ``run --out``'s ``timeline.png``
    does (it drew neither: default visibility rule, no flight log); titled of ``TYPE`` only
    when it shows that type's stays, not all stays when none is of it."""
    from types import SimpleNamespace

    import pandas as pd

    drawn: list[tuple[tuple, dict]] = []
    result = SimpleNamespace(
        stays=pd.DataFrame({"type": ["T154"]}),
        coverage="coverage",
        detections="detections",
        link_config="the run's rules",
        flights="the run's log",
    )
    chosen = pd.DataFrame({"type": ["IL62"] * kept})
    names = {"result": result, "chosen": chosen, "TYPE": "IL62"}
    names["plot_timeline"] = lambda *args, **kwargs: drawn.append((args, kwargs))
    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "plot_timeline(" in c.source)
    exec(cell.source, names)
    ((args, kwargs),) = drawn
    assert args[0] is (chosen if kept else result.stays)
    assert kwargs["config"] == "the run's rules" and kwargs["flights"] == "the run's log"
    assert kwargs["type_filter"] == ("IL62" if kept else None)


@pytest.mark.parametrize("weights", [None, "my_model.safetensors"])
def test_your_imagery_notebook_stops_on_weights_it_cannot_load(weights):
    """Its detector cell (run with stand-ins for the model and the run): a ``WEIGHTS`` file
    that cannot be loaded stops it with the reason, not a whole run with an untrained network
    that finds nothing; only a missing shipped model (``WEIGHTS`` None) falls back to one."""
    import contextlib
    from types import SimpleNamespace

    from dwelltime.errors import WeightsError

    def load_detector(path, device):
        raise WeightsError(f"{path or 'models/'}: detector weights file not found")

    run = SimpleNamespace(summary=lambda: "0 scenes", detections={"type": []})
    names = {
        "WEIGHTS": weights,
        "DEVICE": "cpu",
        "load_detector": load_detector,
        "WeightsError": WeightsError,
        "default_classes": lambda: ["IL62"],
        "build_detector": lambda num_classes: None,
        "Detector": lambda network, classes, device: "untrained",
        "FLIGHTS": None,
        "stage_bars": contextlib.nullcontext,
        "pipeline": SimpleNamespace(run=lambda *args, **kwargs: run),
        "type_colors": lambda types: {},
        **dict.fromkeys(["IMAGERY", "AIRPORT", "APRONS", "times", "read_flights"]),
    }
    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "load_detector(" in c.source)
    if weights:
        with pytest.raises(WeightsError, match=r"my_model\.safetensors"):
            exec(cell.source, names)
    else:
        exec(cell.source, names)
        assert names["detector"] == "untrained"


def test_your_imagery_notebook_detects_on_the_gpu_when_there_is_one():
    """Its ``DEVICE`` is ``auto`` (CUDA when there is one, as ``run --device``) and its
    detector cell loads the model there: it loaded it on the CPU whatever the machine had, so
    a folder of one's own imagery ran for hours on a machine with a GPU."""
    import contextlib
    from types import SimpleNamespace

    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    names: dict = {}
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    exec(parameters.source, names)
    assert names["DEVICE"] == "auto"
    loaded = []
    names |= {"WEIGHTS": None, "FLIGHTS": None, "stage_bars": contextlib.nullcontext}
    names |= {"load_detector": lambda weights, device: loaded.append(device) or "detector"}
    names |= {"WeightsError": Exception, "type_colors": lambda types: {}}
    run = SimpleNamespace(summary=lambda: "0 scenes", detections={"type": []})
    names["pipeline"] = SimpleNamespace(run=lambda *args, **kwargs: run)
    names |= dict.fromkeys(["IMAGERY", "AIRPORT", "APRONS", "times", "read_flights"])
    cell = next(c for c in nb.cells if c.cell_type == "code" and "load_detector(" in c.source)
    exec(cell.source, names)
    assert loaded == ["auto"]


def test_your_imagery_notebook_refuses_a_type_the_catalog_lacks_at_once(tmp_path):
    """Its set-up cell (run with ``IMAGERY`` a folder of our own): ``TYPE = "IL62X"`` stops
    it with the catalog's close matches, as ``run --type`` does, not a whole run whose stays
    table then says "No stays of type IL62X" of stays typed IL62; ``Il-62M`` reads as IL62."""
    from dwelltime.errors import UnknownTypeError

    nb = nbformat.read(NOTEBOOKS / "02_your_imagery.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "IMAGERY = Path(" in c.source)
    code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))

    def setup(type_: str) -> dict:
        names = {"Path": Path, "IMAGERY": tmp_path, "APRONS": None, "TYPE": type_}
        exec(code, names)
        return names

    with pytest.raises(UnknownTypeError, match="did you mean IL62"):
        setup("IL62X")
    assert setup("Il-62")["TYPE"] == "IL62"
    assert setup("Il-62M")["TYPE"] == "IL62"

from pathlib import Path

import pytest

from dwelltime.batch.spec import JobSpecError, load_spec


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_spec_resolves_paths_from_the_yaml_folder(tmp_path):
    spec = load_spec(
        write(
            tmp_path,
            "output: out\nworkers: 0\njobs:\n"
            "  - {airport: zkpy, imagery: sunan, aprons: a.geojson, type: Il-62}\n"
            "  - {airport: UUWW, imagery: /abs/images, flights: uuww.csv, times: t.csv}\n"
            "flights: all.csv\n",
        )
    )
    assert spec.output == tmp_path / "out"
    assert spec.workers == 0
    first, second = spec.jobs
    assert (first.airport, first.imagery, first.aprons, first.type) == (
        "ZKPY",
        tmp_path / "sunan",
        tmp_path / "a.geojson",
        "IL62",
    )
    assert second.imagery == Path("/abs/images") and second.aprons is None
    assert (spec.flights, first.flights, second.flights) == (
        tmp_path / "all.csv",
        None,  # the job-wide log
        tmp_path / "uuww.csv",
    )
    assert (first.times, second.times) == (None, tmp_path / "t.csv")
    assert spec.link is None  # LinkConfig()'s rules


def test_a_path_from_home_is_not_a_folder_named_tilde_beside_the_job_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = "output: ~/out\njobs:\n  - {airport: ZKPY, imagery: ~/a}\n"
    spec = load_spec(write(tmp_path, text))
    assert spec.output == tmp_path / "home" / "out"
    assert spec.jobs[0].imagery == tmp_path / "home" / "a"


def test_spec_takes_linking_rules(tmp_path):
    from dwelltime.linking import LinkConfig

    text = (
        "output: o\nlink: {link_moves: true, max_gap_h: null}\n"
        "jobs:\n  - {airport: ZKPY, imagery: x}\n"
    )
    spec = load_spec(write(tmp_path, text))
    assert spec.link == LinkConfig(link_moves=True, max_gap_h=None)
    assert spec.formats == ("gpkg", "csv")  # the default, as `dwelltime run`


def test_spec_takes_output_formats_and_compile(tmp_path):
    text = "output: o\nformats: [parquet]\ncompile: true\njobs:\n  - {airport: ZKPY, imagery: x}\n"
    spec = load_spec(write(tmp_path, text))
    assert spec.formats == ("parquet",) and spec.compile is True
    assert spec.finishers is None  # by device: processes on CUDA, a thread elsewhere
    spec = load_spec(write(tmp_path, text.replace("compile: true", "finishers: 3")))
    assert spec.finishers == 3 and spec.precision == "auto"
    spec = load_spec(write(tmp_path, text.replace("compile: true", "precision: fp32")))
    assert spec.precision == "fp32"
    spec = load_spec(write(tmp_path, text.replace("[parquet]", "csv")))  # one, not a list
    assert spec.formats == ("csv",)


def test_spec_takes_the_figure_format(tmp_path):
    """``figure_format: pdf``, as ``run --figure-format pdf``; PNG when not given."""
    text = "output: o\njobs:\n  - {airport: ZKPY, imagery: x}\n"
    assert load_spec(write(tmp_path, text)).figure_format == "png"
    assert load_spec(write(tmp_path, "figure_format: pdf\n" + text)).figure_format == "pdf"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("output: out\njobs: []\n", "empty"),
        ("jobs:\n  - {airport: ZKPY, imagery: x}\n", "required"),
        ("output: o\nbogus: 1\njobs:\n  - {airport: ZKPY, imagery: x}\n", "bogus"),
        ("output: o\njobs:\n  - {airport: ZKPY, imagery: x, colour: red}\n", "colour"),
        ("output: o\njobs:\n  - {airport: ZKPY}\n", "imagery"),
        (  # was "each job needs `airport` and `imagery`", the misspelt key unnamed
            "output: o\njobs:\n  - {airport: ZKPY, imagry: x}\n",
            r"jobs\[0\]: unknown key\(s\) \['imagry'\]",
        ),
        (  # a mapping was read as its keys: "jobs[0]: each job needs `airport` and `imagery`"
            "output: o\njobs: {airport: ZKPY, imagery: x}\n",
            r"`jobs` must be a list, a job a line: .*not \{'airport': 'ZKPY'",
        ),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x}\n  - {airport: zkpy, imagery: y}\n",
            r"jobs\[0\] and jobs\[1\] are both ZKPY",
        ),
        (  # one airport by its ICAO and its IATA code
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x}\n  - {airport: FNJ, imagery: y}\n",
            r"jobs\[0\] and jobs\[1\] are both ZKPY",
        ),
        ("output: o\njobs:\n  - {airport: XXXX, imagery: x}\n", r"jobs\[0\]: unknown airport"),
        (  # Offutt's IATA code, unquoted: YAML's false, which was 'unknown airport code FALSE'
            "output: o\njobs:\n  - {airport: OFF, imagery: x}\n",
            r"jobs\[0\]: `airport` read as false \(YAML .*quote the code: airport: 'OFF'",
        ),
        ("output: o\nbatch_size: 0\njobs:\n  - {airport: ZKPY, imagery: x}\n", "batch_size"),
        ("output: o\nfinishers: -1\njobs:\n  - {airport: ZKPY, imagery: x}\n", "finishers"),
        ("output: o\nfinishers: two\njobs:\n  - {airport: ZKPY, imagery: x}\n", "finishers"),
        ("output: o\nfinishers: yes\njobs:\n  - {airport: ZKPY, imagery: x}\n", "finishers"),
        ("output: o\nformats: [shp]\njobs:\n  - {airport: ZKPY, imagery: x}\n", "shp"),
        ("output: o\nformats: []\njobs:\n  - {airport: ZKPY, imagery: x}\n", "formats"),
        ("output: o\nfigure_format: jpg\njobs:\n  - {airport: ZKPY, imagery: x}\n", "'jpg'"),
        ("output: o\nprecision: fp16\njobs:\n  - {airport: ZKPY, imagery: x}\n", "fp16"),
        ("output: o\nflights: 3\njobs:\n  - {airport: ZKPY, imagery: x}\n", "`flights`"),
        ("output: o\nlink: {moves: 1}\njobs:\n  - {airport: ZKPY, imagery: x}\n", "moves"),
        ("output: o\nlink: {max_gap_h: -1}\njobs:\n  - {airport: ZKPY, imagery: x}\n", "max_gap_h"),
        (
            'output: o\nlink: {max_gap_h: "96"}\njobs:\n  - {airport: ZKPY, imagery: x}\n',
            "link: max_gap_h: give a number or null, not '96'",
        ),
        (
            'output: o\nlink: {link_moves: "no"}\njobs:\n  - {airport: ZKPY, imagery: x}\n',
            "link: link_moves: give true or false, not 'no'",
        ),
        ("output: o\nlink: [1]\njobs:\n  - {airport: ZKPY, imagery: x}\n", "mapping of linking"),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x, flights: [a.csv]}\n",
            r"jobs\[0\]: `flights` must be a file path",
        ),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x, type: IL62X}\n",
            r"jobs\[0\]: `type`: 'IL62X' is not an aircraft type .*did you mean IL62",
        ),
        ("output: o\njobs:\n  - {airport: ZKPY, imagery: 5}\n", r"jobs\[0\]: `imagery` must be"),
        ("output: [o]\njobs:\n  - {airport: ZKPY, imagery: x}\n", "`output` must be"),
        ("output:\njobs:\n  - {airport: ZKPY, imagery: x}\n", "`output` must be"),
        (
            'output: o\nbatch_size: "16"\njobs:\n  - {airport: ZKPY, imagery: x}\n',
            "batch_size: give a whole number, not '16'",
        ),
        ("output: o\nworkers: 2.5\njobs:\n  - {airport: ZKPY, imagery: x}\n", "workers: give"),
        (  # a quoted "no" is a true string: it would have compiled
            'output: o\ncompile: "no"\njobs:\n  - {airport: ZKPY, imagery: x}\n',
            "compile: give true or false",
        ),
        ("output: o\nscheduler: 5\njobs:\n  - {airport: ZKPY, imagery: x}\n", "scheduler: give"),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x, start: 01/02/2023}\n",
            r"jobs\[0\]: `start`: give an ISO 8601 date or date and time .*not '01/02/2023'",
        ),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x, end: 2023}\n",
            r"jobs\[0\]: `end`: give an ISO 8601 date",
        ),
        (
            "output: o\njobs:\n"
            "  - {airport: ZKPY, imagery: x, start: 2023-12-31, end: 2023-01-01}\n",
            r"jobs\[0\]: `end` 2023-01-01 is before `start` 2023-12-31; swap them",
        ),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x, aprons_layer: stands}\n",
            r"jobs\[0\]: `aprons_layer` needs `aprons` \(the file it is a layer of\)",
        ),
        (
            "output: o\njobs:\n  - {airport: ZKPY, imagery: x, aprons: a.gpkg, aprons_layer: 3}\n",
            r"jobs\[0\]: `aprons_layer` must be a layer name, not 3",
        ),
        ("- just a list\n", "mapping"),
        ("output: [unclosed\n", "line 2: expected ',' or ']'"),
    ],
)
def test_bad_job_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(JobSpecError, match=message) as caught:
        load_spec(write(tmp_path, text))
    assert str(caught.value).startswith(f"{tmp_path / 'job.yaml'}: ")  # the file, then what
    assert "\n" not in str(caught.value)  # one line


def test_a_jobs_date_range_is_utc_and_its_end_date_takes_in_its_day(tmp_path):
    """``start``/``end``: dates (an end date to the end of its day), times with a zone or
    without one (UTC), quoted or as YAML reads them; none given: any time."""
    import pandas as pd

    text = (
        "output: o\njobs:\n"
        "  - {airport: ZKPY, imagery: a, start: 2023-01-01, end: 2023-12-31}\n"
        "  - {airport: UUWW, imagery: b, start: '2023-06-01T12:00+03:00', end: 2023-06-02 06:30}\n"
        "  - {airport: UUEE, imagery: c, end: '20230101'}\n"
        "  - {airport: UUDD, imagery: d}\n"
    )
    year, moscow, until, anytime = load_spec(write(tmp_path, text)).jobs
    t = pd.Timestamp
    assert (year.start, moscow.start) == (t("2023-01-01", tz="UTC"), t("2023-06-01 09:00Z"))
    assert moscow.end == t("2023-06-02 06:30Z") and until.start is None
    assert year.in_range(t("2023-12-31 23:59:59.9Z")) and not year.in_range(t("2024-01-01 00:00Z"))
    assert not year.in_range(t("2022-12-31 23:59:59Z"))
    assert until.in_range(t("2000-01-01 00:00Z")) and not until.in_range(t("2023-01-02 00:00Z"))
    assert anytime.in_range(t("1990-01-01 00:00Z")) and anytime.range_text() == ""
    assert year.range_text() == "from 2023-01-01 00:00:00 UTC to 2023-12-31 23:59:59 UTC"


def test_airport_not_in_the_registry_is_a_job_with_its_aprons(tmp_path):
    text = "output: o\njobs:\n  - {airport: kp-x1, imagery: x, aprons: field.gpkg}\n"
    (job,) = load_spec(write(tmp_path, text)).jobs
    assert job.airport == "KP-X1"


def test_a_job_names_the_layer_of_its_apron_file(tmp_path):
    """A file of several polygon layers none named like apron could not be a job's aprons:
    ``aprons_layer`` names the layer, handed on with the file as (file, layer)."""
    text = (
        "output: o\njobs:\n  - {airport: ZKPY, imagery: x, aprons: a.gpkg, aprons_layer: stands}\n"
        "  - {airport: UUWW, imagery: y, aprons: b.gpkg}\n"
    )
    named, plain = load_spec(write(tmp_path, text)).jobs
    assert named.apron_source == (tmp_path / "a.gpkg", "stands")
    assert plain.apron_source == tmp_path / "b.gpkg"


def test_the_documented_job_file_shows_the_defaults_of_its_settings():
    """The module's example job file gives each setting with a default at that default (a
    user copying it gets what leaving the key out gives)."""
    from dataclasses import fields

    import yaml

    import dwelltime.batch.spec as spec

    example = yaml.safe_load(spec.__doc__.split("```yaml")[1].split("```")[0])
    given = ("output", "jobs", "link")  # no default, or an example of rules
    defaults = {f.name: f.default for f in fields(spec.BatchSpec) if f.name not in given}
    shown = {k: v for k, v in example.items() if k in defaults}
    shown["formats"] = tuple(shown["formats"])
    assert shown == defaults

"""The batch job file: which airports, which imagery, where the results go.

```yaml
output: results/             # one folder per airport below it, plus combined tables
device: auto                 # auto | cpu | cuda | cuda:1
batch_size: 16               # tiles per forward pass
tile_size_px: 512            # tile edge, pixels at the detector's 0.5 m (1024 on a GPU)
workers: 2                   # processes reading and resampling windows (2 scenes ahead
                             # each, in shared memory: 0.4 GB a worker, plus 0.4 GB;
                             # at most one per CPU)
finishers: null              # processes turning predictions into map rows and committing
                             # them; 0: a thread of this process; null: 2 on CUDA, else 0
scheduler: null              # null (this process), "local" (a Dask LocalCluster) or tcp://host:8786
formats: [gpkg, csv]         # result layers per airport: any of gpkg, csv, geojson, parquet
                             # (also all_stays, the job's stays; .csv always)
figure_format: png           # each airport's figures: png, or svg or pdf (vector, for print)
compile: false               # torch.compile the network (GPU jobs: ~1.6× faster after ~30 s),
                             # and on CUDA replay the refiner from CUDA graphs
precision: auto              # auto | bf16 | fp32 | int8 (auto: bf16 on CUDA and on CPUs with
                             # native bf16, int8 on other x86 CPUs; with compile: fp32 there)
flights: null                # a flight-tracking CSV for every job without its own `flights`
link: {link_moves: true}     # linking rules (dwelltime.linking.LinkConfig), as run's options
jobs:
  - {airport: ZKPY, imagery: sunan/, aprons: sunan_aprons.geojson, type: IL62,
     flights: sunan_adsb.csv, times: sunan_times.csv}
  - {airport: UUEE, imagery: sheremetyevo/, aprons: svo.gpkg, aprons_layer: stands}
  - {airport: UUWW, imagery: vnukovo/items.json}   # a STAC ItemCollection of local files
  - {airport: FNJ, imagery: archive/, start: 2023-01-01, end: 2023-12-31}  # scenes of 2023
```
``imagery`` is a folder or a STAC ItemCollection JSON file (:mod:`dwelltime.stac`).
``flights`` is a CSV as ``dwelltime run --flights`` reads it (:mod:`dwelltime.flights`; its
rows are matched to stays by airport, so one file may serve every job); ``times`` one as
``--times`` reads it: acquisition times of the job's images that win over those in the files
(:func:`dwelltime.timesources.read_times_csv`). ``start`` and ``end`` keep the job's scenes
acquired in that range (:func:`job_time`: ISO 8601 dates or dates and times, UTC unless a zone
is given, an ``end`` date inclusive of its day); the others are left out of its tables, counted
in one log line. ``link`` sets fields of
:class:`dwelltime.linking.LinkConfig` (``max_visible_misses``, ``max_gap_h``, ``link_moves``,
``prior_strength``… as ``dwelltime run --max-misses`` etc.) for every airport. Relative paths
are taken from the folder holding the YAML file. Unknown keys are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from dwelltime.catalog import designator
from dwelltime.errors import DwelltimeError, UnknownAirportError, UnknownTypeError
from dwelltime.precision import PRECISIONS
from dwelltime.schema import fits_annotation

if TYPE_CHECKING:
    import pandas as pd

    from dwelltime.linking import LinkConfig


class JobSpecError(DwelltimeError):
    """A batch YAML file that does not describe a job; the message names the key."""


@dataclass(frozen=True)
class AirportJob:
    """One airport's imagery."""

    airport: str
    imagery: Path
    aprons: Path | None = None
    aprons_layer: str | None = None  # the layer of ``aprons`` to read (``--aprons-layer``)
    type: str | None = None
    flights: Path | None = None  # flight-tracking CSV; None: the spec's ``flights``
    times: Path | None = None  # CSV of the images' acquisition times (``--times``)
    start: pd.Timestamp | None = None  # first acquisition time kept, UTC; None: any
    end: pd.Timestamp | None = None  # last acquisition time kept, UTC; None: any

    @property
    def apron_source(self) -> Path | tuple[Path, str] | None:
        """The aprons as :func:`dwelltime.airports.load_aprons` takes them: the file, or
        (file, layer) with ``aprons_layer``."""
        if self.aprons is None or self.aprons_layer is None:
            return self.aprons
        return (self.aprons, self.aprons_layer)

    def in_range(self, acquired: pd.Timestamp) -> bool:
        """Whether a scene acquired at ``acquired`` (UTC) is in ``start``…``end`` (inclusive)."""
        return (self.start is None or acquired >= self.start) and (
            self.end is None or acquired <= self.end
        )

    def range_text(self) -> str:
        """``start``…``end`` in words: ``from 2023-01-01 00:00:00 UTC to 2023-12-31 23:59:59
        UTC``; empty when the job has neither."""
        ends = (("from", self.start), ("to", self.end))
        return " ".join(f"{w} {t:%Y-%m-%d %H:%M:%S} UTC" for w, t in ends if t is not None)


@dataclass(frozen=True)
class BatchSpec:
    """A whole batch job (see the module docstring for the YAML form)."""

    output: Path
    jobs: tuple[AirportJob, ...]
    device: str = "auto"
    batch_size: int = 16
    workers: int = 2
    finishers: int | None = None
    scheduler: str | None = None
    tile_size_px: int = 512
    formats: tuple[str, ...] = ("gpkg", "csv")
    figure_format: str = "png"  # dwelltime.formats.FIGURE_FORMATS
    compile: bool = False
    precision: str = "auto"
    flights: Path | None = None  # flight-tracking CSV of the jobs without their own
    link: LinkConfig | None = None  # linking rules; None: LinkConfig()

    def __post_init__(self) -> None:
        from dwelltime.formats import check_figure_format
        from dwelltime.io import check_formats

        _check_option_types(self)
        one = isinstance(self.formats, str)  # `formats: csv`
        object.__setattr__(self, "formats", (self.formats,) if one else tuple(self.formats))
        try:
            check_formats(self.formats)
            check_figure_format(self.figure_format)
        except ValueError as exc:
            raise JobSpecError(str(exc)) from None
        if self.precision not in PRECISIONS:
            choices = ", ".join(PRECISIONS)
            raise JobSpecError(f"precision: give one of {choices}, not {self.precision!r}")
        if not self.formats:
            raise JobSpecError("formats is empty: name one or more of gpkg, csv, geojson, parquet")
        if not self.jobs:
            raise JobSpecError("`jobs` is empty: list at least one {airport, imagery}")
        if self.batch_size < 1 or self.workers < 0 or self.tile_size_px < 64:
            raise JobSpecError("batch_size ≥ 1, workers ≥ 0 and tile_size_px ≥ 64 are required")
        if self.finishers is not None and (
            isinstance(self.finishers, bool)
            or not isinstance(self.finishers, int)
            or self.finishers < 0
        ):
            raise JobSpecError(f"finishers: give a number ≥ 0 or null, not {self.finishers!r}")
        _check_airports(self.jobs)


#: How to say the YAML value each option checked by :func:`_check_option_types` takes.
_OPTION_WORDS: dict[str, str] = {
    "device": "a device name (auto, cpu, cuda, cuda:1…)",
    "batch_size": "a whole number",
    "workers": "a whole number",
    "tile_size_px": "a whole number of pixels",
    "compile": "true or false",
    "precision": "one of " + ", ".join(PRECISIONS),
    "scheduler": 'null, "local" or a scheduler address (tcp://host:8786)',
}


def _check_option_types(spec: BatchSpec) -> None:
    """Refuse an option of the wrong YAML type, naming it (``compile: "no"`` would be true,
    ``batch_size: "16"`` would fail later with a traceback, ``workers: 2.5``…)."""
    annotations = {f.name: str(f.type) for f in fields(spec)}
    for name, what in _OPTION_WORDS.items():
        value = getattr(spec, name)
        if not fits_annotation(value, annotations[name]):
            raise JobSpecError(f"{name}: give {what}, not {value!r}")


def load_spec(path: Path) -> BatchSpec:
    """Read and validate a batch YAML file."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise JobSpecError(f"{path}: cannot read the job file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from exc
    if not isinstance(raw, dict):
        raise JobSpecError(f"{path}: expected a mapping with `output` and `jobs`")
    base = Path(path).parent

    def path_of(key: str, entry: dict, where: str, required: bool = False) -> Path | None:
        """``entry[key]`` as a path from the YAML file's folder (``~`` is the home folder, as
        in a shell), or None when not given (and not ``required``)."""
        value = entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise JobSpecError(f"{where}: `{key}` must be a file path, not {value!r}")
        return base / Path(value).expanduser()

    _refuse_unknown(raw, BatchSpec, str(path))
    if "output" not in raw or "jobs" not in raw:
        raise JobSpecError(f"{path}: `output` and `jobs` are required")
    if not isinstance(raw["jobs"], list | None):  # a mapping would be read as its keys
        raise JobSpecError(
            f"{path}: `jobs` must be a list, a job a line: `  - {{airport: ZKPY, imagery: "
            f"sunan/}}`, not {raw['jobs']!r}"
        )
    jobs = []
    for n, entry in enumerate(raw["jobs"] or []):
        where = f"{path}: jobs[{n}]"
        if isinstance(entry, dict):  # a misspelt `imagery` is named as such
            _refuse_unknown(entry, AirportJob, where)
        if not isinstance(entry, dict) or "airport" not in entry or "imagery" not in entry:
            raise JobSpecError(f"{where}: each job needs `airport` and `imagery`")
        if isinstance(entry["airport"], bool):  # YAML 1.1 reads OFF, ON, YES, NO, Y, N so
            raise JobSpecError(
                f"{where}: `airport` read as {str(entry['airport']).lower()} (YAML reads OFF, "
                "ON, YES, NO, Y and N as true or false); quote the code: airport: 'OFF'"
            )
        jobs.append(
            AirportJob(
                airport=str(entry["airport"]).upper(),
                imagery=path_of("imagery", entry, where, required=True),
                aprons=path_of("aprons", entry, where),
                aprons_layer=_aprons_layer(entry, where),
                type=_designator(entry.get("type"), where),
                flights=path_of("flights", entry, where),
                times=path_of("times", entry, where),
                **_job_range(entry, where),
            )
        )
    read_here = ("output", "jobs", "flights", "link")
    options = {k: v for k, v in raw.items() if k not in read_here and v is not None}
    try:
        return BatchSpec(
            output=path_of("output", raw, str(path), required=True),
            jobs=tuple(jobs),
            flights=path_of("flights", raw, str(path)),
            link=_link_config(raw.get("link"), f"{path}: link"),
            **options,
        )
    except JobSpecError as exc:
        text = str(exc)
        raise JobSpecError(text if text.startswith(f"{path}:") else f"{path}: {text}") from None


def _aprons_layer(entry: dict, where: str) -> str | None:
    """A job's ``aprons_layer``: the name of a layer of its ``aprons`` file, or None."""
    layer = entry.get("aprons_layer")
    if layer is None:
        return None
    if not isinstance(layer, str) or not layer:
        raise JobSpecError(f"{where}: `aprons_layer` must be a layer name, not {layer!r}")
    if entry.get("aprons") is None:
        raise JobSpecError(f"{where}: `aprons_layer` needs `aprons` (the file it is a layer of)")
    return layer


def _yaml_error(path: Path, exc: Exception) -> JobSpecError:
    """A YAML syntax error in one line: the file, the line (1-based) and the problem."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    where = f"{path}: line {mark.line + 1}" if mark is not None else str(path)
    return JobSpecError(f"{where}: {problem}")


def _link_config(settings: object, where: str) -> LinkConfig | None:
    """The ``link`` mapping as a :class:`~dwelltime.linking.LinkConfig` (None when not
    given); unknown fields and bad values are refused, naming them."""
    from dwelltime.linking import LinkConfig

    if settings is None:
        return None
    if not isinstance(settings, dict):
        raise JobSpecError(
            f"{where}: give a mapping of linking settings, e.g. {{link_moves: true}}"
        )
    _refuse_unknown(settings, LinkConfig, where)
    for f in fields(LinkConfig):
        if f.name in settings and not fits_annotation(settings[f.name], str(f.type)):
            kind, _, optional = str(f.type).partition(" | ")
            what = {"bool": "true or false", "int": "a whole number", "float": "a number"}[kind]
            what += " or null" if optional else ""
            raise JobSpecError(f"{where}: {f.name}: give {what}, not {settings[f.name]!r}")
    try:
        return LinkConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise JobSpecError(f"{where}: {exc}") from None


def _check_airports(jobs: tuple[AirportJob, ...]) -> None:
    """Every job's airport is known (or has an apron file to place it), and no airport (by
    ICAO or IATA code) has two jobs: its results go to one folder."""
    from dwelltime.airports import lookup_airport

    first: dict[str, int] = {}
    for n, job in enumerate(jobs):
        try:
            icao = lookup_airport(job.airport).icao
        except UnknownAirportError as exc:
            if job.aprons is None:  # else placed at its aprons when the job is prepared
                raise JobSpecError(f"jobs[{n}]: {exc}") from None
            icao = job.airport.strip().upper()
        if icao in first:
            raise JobSpecError(
                f"jobs[{first[icao]}] and jobs[{n}] are both {icao}; merge their imagery "
                "folders into one job (an airport's results go to one folder)"
            )
        first[icao] = n


def job_time(value: object, *, end: bool = False) -> pd.Timestamp:
    """A job's ``start`` (or with ``end``, its ``end``) as a UTC timestamp: an ISO 8601 date
    (``2023-01-01``: its midnight; an ``end`` date: the last nanosecond of its day, so that
    the day is in) or date and time (``2023-01-01T06:00``, ``… +03:00``; no zone: UTC), as
    text or as YAML reads it (a date, a datetime). ValueError for anything else."""
    from datetime import date, datetime, timedelta

    import pandas as pd

    from dwelltime.timesources import ISO_DATE, ISO_DATETIME, to_utc

    text = value.strip() if isinstance(value, str) else None
    if type(value) is date or (text is not None and ISO_DATE.fullmatch(text)):
        day = to_utc(pd.Timestamp(text or value).normalize())
        return day + timedelta(days=1) - pd.Timedelta(1, "ns") if end else day
    if isinstance(value, datetime) or (text is not None and ISO_DATETIME.fullmatch(text)):
        return to_utc(text or value)
    raise ValueError(
        f"give an ISO 8601 date or date and time (2023-01-01, 2023-01-01T06:00Z; no zone: "
        f"UTC), not {value!r}"
    )


def _job_range(entry: dict, where: str) -> dict[str, pd.Timestamp]:
    """A job entry's ``start`` and ``end`` (:func:`job_time`) when given; JobSpecError naming
    the key for a value that is no date or time, or an ``end`` before the ``start``."""
    times = {}
    for key in ("start", "end"):
        if entry.get(key) is not None:
            try:
                times[key] = job_time(entry[key], end=key == "end")
            except ValueError as exc:
                raise JobSpecError(f"{where}: `{key}`: {exc}") from None
    if len(times) == 2 and times["end"] < times["start"]:
        raise JobSpecError(
            f"{where}: `end` {entry['end']} is before `start` {entry['start']}; swap them"
        )
    return times


def _designator(value: object, where: str) -> str | None:
    """A job's ``type`` as the catalog's designator (``Il-62`` → ``IL62``), or None."""
    if value is None:
        return None
    try:
        return designator(str(value))
    except UnknownTypeError as exc:
        raise JobSpecError(f"{where}: `type`: {exc}") from None


def _refuse_unknown(raw: dict, cls: type, where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise JobSpecError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")

"""Stay and dwell-time quality against the ground truth of a synthetic series.

Truth (:func:`load_true_stays`) comes from ``<series>/truth/``: ``stays.csv`` (one row per
aircraft per stand with true ``start``/``end``), ``scenes.csv`` and the per-scene
``<scene_id>.geojson`` whose ``hidden`` flag says whether the aircraft could be seen. A true
stay is *observed* when at least one scene shows it unhidden (without any such file: when a
scene falls within it); only observed stays can be missed. Its centre is the median of the
aircraft's true centres in the scenes (the stand point of ``stays.csv`` can be 20 m and more
from the aircraft's centre), or the stand point when no scene shows it.

Matching (:func:`match_stays`): a predicted stay and a true stay may match when they are at
the same airport, their centres are within ``max_distance_m`` and the predicted sightings
``[first_seen, last_seen]`` overlap the true ``[start, end)``. One-to-one, minimum total
distance (``scipy.optimize.linear_sum_assignment``): a true stay split in two predicted stays
gives one true positive and one false positive.

Scores (:func:`score_stays`), overall and per type (true type for matches and misses,
predicted type for false positives):

* ``precision``, ``recall``, ``f1`` of stays; recall over the observed true stays (plus any
  unobserved one that was matched anyway);
* ``type_acc``: share of matched stays whose predicted type is the true one (a row's type is
  the true type, so its F1 says nothing of how well the type was read);
* ``coverage``: share of matched stays whose true dwell lies in ``[dwell_min_h, dwell_max_h]``
  (an open maximum of a censored stay is +inf);
* ``median_abs_err_h``: median ``|dwell_est_h − true dwell|`` over matched stays bounded at
  both ends (``n_bounded`` of them); censored estimates are a lower bound, not an estimate;
* ``median_err_lo_h``, ``median_err_hi_h``: a 95 % confidence interval of that median
  (:func:`median_interval`): over a few dozen stays the median is itself uncertain by hours.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import binom

from dwelltime.airports import icao_code
from dwelltime.errors import LabelError
from dwelltime.evaluation.labels import truth_type, yes_no
from dwelltime.schema import DETECTION_COLUMNS, empty_frame
from dwelltime.tables import few, format_table

if TYPE_CHECKING:
    import geopandas as gpd

#: Columns of the true-stays frame.
TRUE_STAY_COLUMNS: tuple[str, ...] = (
    "true_id",  # stays.csv stay_id
    "airport",
    "type",
    "x",  # stand centre, metres (layout UTM CRS)
    "y",
    "start",  # UTC, on the stand
    "end",  # UTC, off the stand
    "dwell_h",  # end − start, hours
    "observed",  # bool: unhidden in at least one scene
)

#: Columns ``truth/stays.csv`` must have (x, y: the stand point in the layout's CRS, metres).
STAY_FILE_COLUMNS: tuple[str, ...] = (
    "stay_id",
    "aircraft_id",
    "type",
    "stand_id",
    "x",
    "y",
    "start",
    "end",
)

#: Columns of the score table (one row per type, then ``all``).
SCORE_COLUMNS: tuple[str, ...] = (
    "type",
    "n_true",
    "n_pred",
    "tp",
    "precision",
    "recall",
    "f1",
    "type_acc",
    "coverage",
    "n_bounded",
    "median_abs_err_h",
    "median_err_lo_h",
    "median_err_hi_h",
)

#: Confidence of the interval of the median error (:func:`median_interval`).
MEDIAN_INTERVAL_LEVEL = 0.95

_HOUR = pd.Timedelta(hours=1)

log = logging.getLogger(__name__)


def load_true_stays(series_dir: Path | str, airport: str) -> pd.DataFrame:
    """True stays of a synthetic series (:data:`TRUE_STAY_COLUMNS`) at ``airport`` (ICAO or
    IATA code; the ``airport`` column holds the ICAO code, as stays of a run do). Types are
    read as ICAO designators (:func:`~dwelltime.evaluation.labels.truth_type`).

    When no scene has a ``<scene_id>.geojson`` (a series built by hand), a stay is taken as
    observed when a scene of ``scenes.csv`` falls within it, and a warning says so.

    Raises :class:`~dwelltime.errors.LabelError` naming the file when ``truth/stays.csv``
    (:data:`STAY_FILE_COLUMNS`) or ``truth/scenes.csv`` (``scene_id``, ``acquired``) is
    missing, lacks columns or has times that are not ISO 8601, or when a
    ``truth/<scene_id>.geojson`` lacks :data:`SIGHTING_COLUMNS`.
    """
    truth = Path(series_dir) / "truth"
    stays = _read_csv(truth / "stays.csv", STAY_FILE_COLUMNS, times=("start", "end"))
    scenes = _read_csv(truth / "scenes.csv", ("scene_id", "acquired"), times=("acquired",))
    seen = _sightings(truth, scenes)
    visibility = any((truth / f"{s}.geojson").is_file() for s in scenes["scene_id"])
    if not visibility:
        log.warning(
            "%s: no scene of scenes.csv has a <scene_id>.geojson saying which aircraft it "
            "shows; a true stay counts as observed when a scene falls within it",
            truth,
        )
    observed, xs, ys = [], [], []
    for r in stays.itertuples():
        mine = seen[
            (seen["aircraft_id"] == r.aircraft_id)
            & (seen["stand_id"] == r.stand_id)
            & (seen["acquired"] >= r.start)
            & (seen["acquired"] < r.end)
        ]
        during = (scenes["acquired"] >= r.start) & (scenes["acquired"] < r.end)
        observed.append(bool((~mine["hidden"]).any() if visibility else during.any()))
        xs.append(float(mine["x"].median()) if len(mine) else float(r.x))
        ys.append(float(mine["y"].median()) if len(mine) else float(r.y))
    return pd.DataFrame(
        {
            "true_id": stays["stay_id"].astype(str),
            "airport": icao_code(airport) or airport.upper(),
            "type": stays["type"].astype(str).map(truth_type),
            "x": np.array(xs, float),
            "y": np.array(ys, float),
            "start": stays["start"],
            "end": stays["end"],
            "dwell_h": (stays["end"] - stays["start"]) / _HOUR,
            "observed": np.array(observed, bool),
        }
    )[list(TRUE_STAY_COLUMNS)]


def _read_csv(path: Path, required: Sequence[str], times: Sequence[str] = ()) -> pd.DataFrame:
    """A truth CSV with the ``required`` columns, ``times`` parsed as UTC (ISO 8601, UTC when
    no offset is given, none empty); :class:`~dwelltime.errors.LabelError` naming the file
    otherwise."""
    if not path.is_file():
        raise LabelError(f"{path}: not found; give a series written by `dwelltime synth`")
    frame = pd.read_csv(path, dtype={"stay_id": str, "scene_id": str, "stand_id": str})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise LabelError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in times:
        try:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        except ValueError as exc:
            raise LabelError(f"{path}: column {column} is not ISO 8601 times ({exc})") from None
        empty = [str(i + 2) for i in np.flatnonzero(frame[column].isna())]  # line 1: header
        if empty:
            raise LabelError(f"{path}: no {column} time on line(s) {few(empty)}")
    return frame


#: Columns every per-scene truth file ``<scene_id>.geojson`` must have.
SIGHTING_COLUMNS: tuple[str, ...] = ("aircraft_id", "stand_id", "hidden")

#: Columns of a truth file that only :func:`true_detections` needs (``dwelltime synth`` writes
#: them), and the names they take among the sightings.
_ATTRIBUTES = {
    "type": "type",
    "heading_grid_deg": "heading_deg",
    "length_m": "length_m",
    "wingspan_m": "wingspan_m",
}


def _sightings(truth: Path, scenes: pd.DataFrame, attributes: bool = False) -> gpd.GeoDataFrame:
    """Every aircraft of every scene with a truth file: ``scene_id``, ``aircraft_id``,
    ``stand_id``, ``acquired``, ``x``, ``y`` (the true centre in the layout's CRS), ``hidden``
    (whether it could not be seen) and the true footprint as geometry; with ``attributes``
    also type, grid heading, length and span (:data:`_ATTRIBUTES`). A truth file without
    :data:`SIGHTING_COLUMNS` (or the attributes asked for) raises
    :class:`~dwelltime.errors.LabelError` naming it."""
    import geopandas as gpd

    parts = []
    for scene_id, acquired in zip(scenes["scene_id"], scenes["acquired"], strict=True):
        path = truth / f"{scene_id}.geojson"
        if not path.is_file():
            continue
        rows = gpd.read_file(path)
        if rows.empty:
            continue
        needed = [*SIGHTING_COLUMNS, *(_ATTRIBUTES if attributes else ())]
        missing = [c for c in needed if c not in rows]
        if missing:
            raise LabelError(f"{path}: missing column(s) {', '.join(missing)}")
        centre = rows.geometry.centroid if "x" not in rows or "y" not in rows else None
        data = {
            "scene_id": str(scene_id),
            "aircraft_id": rows["aircraft_id"].astype(str),
            "stand_id": rows["stand_id"].astype(str),
            "acquired": acquired,
            "x": rows["x"].astype(float) if centre is None else centre.x,
            "y": rows["y"].astype(float) if centre is None else centre.y,
            "hidden": yes_no(rows["hidden"]),
        }
        if attributes:
            data.update({name: rows[c] for c, name in _ATTRIBUTES.items()})
        parts.append(gpd.GeoDataFrame(data, geometry=rows.geometry.to_numpy(), crs=rows.crs))
    if not parts:
        names = ("scene_id", "aircraft_id", "stand_id", "acquired", "x", "y", "hidden")
        names += tuple(_ATTRIBUTES.values()) if attributes else ()
        return empty_frame((*names, "geometry"), None).astype(
            {"x": float, "y": float, "hidden": bool}
        )
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)


def true_detections(series_dir: Path | str, airport: str) -> gpd.GeoDataFrame:
    """What a perfect detector would report on a synthetic series: every aircraft that a
    scene shows unhidden, with its true centre, footprint, grid heading, size and type
    (``score`` and ``type_prob`` 1), as a detections layer
    (:data:`~dwelltime.schema.DETECTION_COLUMNS`) in the layout's true frame (no
    misregistration). Linking it gives the dwell quality that imagery alone allows."""
    import geopandas as gpd

    truth = Path(series_dir) / "truth"
    scenes = _read_csv(truth / "scenes.csv", ("scene_id", "acquired"), times=("acquired",))
    seen = _sightings(truth, scenes, attributes=True)
    seen = seen[~seen["hidden"].astype(bool)].reset_index(drop=True)
    n = seen.groupby("scene_id").cumcount() + 1
    frame = seen.assign(
        detection_id=seen["scene_id"] + ":" + n.astype(str),
        airport=airport.upper(),
        type_prob=1.0,
        score=1.0,
    )
    return gpd.GeoDataFrame(frame[list(DETECTION_COLUMNS)], crs=seen.crs)


def match_stays(
    predicted: pd.DataFrame, truth: pd.DataFrame, *, max_distance_m: float = 20.0
) -> pd.DataFrame:
    """One-to-one matches: ``pred`` (row position in ``predicted``), ``true`` (row position in
    ``truth``), ``distance_m``. See the module docstring for the gates."""
    pairs = []
    for airport in sorted(
        set(predicted["airport"].astype(str)) & set(truth["airport"].astype(str))
    ):
        p = np.flatnonzero(predicted["airport"].astype(str).to_numpy() == airport)
        t = np.flatnonzero(truth["airport"].astype(str).to_numpy() == airport)
        px = predicted["x"].to_numpy(float)[p][:, None]
        py = predicted["y"].to_numpy(float)[p][:, None]
        dist = np.hypot(px - truth["x"].to_numpy(float)[t], py - truth["y"].to_numpy(float)[t])
        first = pd.to_datetime(predicted["first_seen"], utc=True).to_numpy()[p][:, None]
        last = pd.to_datetime(predicted["last_seen"], utc=True).to_numpy()[p][:, None]
        start = pd.to_datetime(truth["start"], utc=True).to_numpy()[t]
        end = pd.to_datetime(truth["end"], utc=True).to_numpy()[t]
        ok = (dist <= max_distance_m) & (first < end) & (last >= start)
        if not ok.any():
            continue
        cost = np.where(ok, dist, 1e9)
        rows, cols = linear_sum_assignment(cost)
        pairs += [(p[r], t[c], dist[r, c]) for r, c in zip(rows, cols, strict=True) if ok[r, c]]
    frame = pd.DataFrame(pairs, columns=["pred", "true", "distance_m"])
    return frame.astype({"pred": int, "true": int, "distance_m": float})


def score_stays(
    predicted: pd.DataFrame, truth: pd.DataFrame, *, max_distance_m: float = 20.0
) -> pd.DataFrame:
    """Precision, recall, F1, dwell coverage and median error per type and overall
    (:data:`SCORE_COLUMNS`; the last row's type is ``all``)."""
    pairs = match_stays(predicted, truth, max_distance_m=max_distance_m)
    matched_pred = set(pairs["pred"])
    matched_true = set(pairs["true"])
    true_dwell = truth["dwell_h"].to_numpy(float)[pairs["true"].to_numpy(int)]
    lo = predicted["dwell_min_h"].to_numpy(float)[pairs["pred"].to_numpy(int)]
    hi = predicted["dwell_max_h"].to_numpy(float)[pairs["pred"].to_numpy(int)]
    est = predicted["dwell_est_h"].to_numpy(float)[pairs["pred"].to_numpy(int)]
    bounded = np.isfinite(hi)
    inside = (true_dwell >= lo - 1e-9) & (true_dwell <= np.where(bounded, hi, np.inf) + 1e-9)
    outcomes = pd.DataFrame(
        {
            "type": truth["type"].astype(str).to_numpy()[pairs["true"].to_numpy(int)],
            "tp": 1,
            "fp": 0,
            "fn": 0,
            "type_ok": (
                predicted["type"].astype(str).to_numpy()[pairs["pred"].to_numpy(int)]
                == truth["type"].astype(str).to_numpy()[pairs["true"].to_numpy(int)]
            ),
            "inside": inside,
            "bounded": bounded,
            "abs_err_h": np.where(bounded, np.abs(est - true_dwell), np.nan),
        }
    )
    missed = [
        i for i in range(len(truth)) if i not in matched_true and bool(truth["observed"].iloc[i])
    ]
    false = [i for i in range(len(predicted)) if i not in matched_pred]
    extra = pd.DataFrame(
        {
            "type": list(truth["type"].astype(str).iloc[missed])
            + list(predicted["type"].astype(str).iloc[false]),
            "tp": 0,
            "fp": [0] * len(missed) + [1] * len(false),
            "fn": [1] * len(missed) + [0] * len(false),
        }
    )
    outcomes = pd.concat([outcomes, extra], ignore_index=True) if len(extra) else outcomes
    rows = [_scores(t, g) for t, g in outcomes.groupby("type", sort=True)]
    rows.append(_scores("all", outcomes))
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def _scores(type_: str, g: pd.DataFrame) -> dict[str, object]:
    tp, fp, fn = int(g["tp"].sum()), int(g["fp"].sum()), int(g["fn"].sum())
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    matched = g[g["tp"] == 1] if "inside" in g else g.iloc[:0]
    errors = matched["abs_err_h"].dropna() if len(matched) else pd.Series([], dtype=float)
    err_lo, err_hi = median_interval(errors.to_numpy(float))
    return {
        "type": type_,
        "n_true": tp + fn,
        "n_pred": tp + fp,
        "tp": tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "type_acc": float(matched["type_ok"].astype(bool).mean()) if len(matched) else math.nan,
        "coverage": float(matched["inside"].astype(bool).mean()) if len(matched) else math.nan,
        "n_bounded": len(errors),
        "median_abs_err_h": float(errors.median()) if len(errors) else math.nan,
        "median_err_lo_h": err_lo,
        "median_err_hi_h": err_hi,
    }


def median_interval(
    values: np.ndarray, level: float = MEDIAN_INTERVAL_LEVEL
) -> tuple[float, float]:
    """A distribution-free confidence interval of the median of ``values`` (any unit): the
    order statistics ``x(k)`` and ``x(n+1-k)`` with the largest ``k`` for which
    ``P(Binomial(n, 1/2) < k) <= (1 - level) / 2``, so the interval holds the true median with
    at least probability ``level`` whatever the distribution. ``(NaN, NaN)`` when ``values``
    are too few for ``level`` (fewer than 6 at 95 %)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    k = int(np.sum(binom.cdf(np.arange(n + 1), n, 0.5) <= (1.0 - level) / 2))
    return (float(x[k - 1]), float(x[n - k])) if k >= 1 else (math.nan, math.nan)


def nearest_distance_m(predicted: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Metres between the closest predicted and true stay centres (``x``, ``y``; NaN when
    either is empty): kilometres say the two are not in the same coordinates."""
    if len(predicted) == 0 or len(truth) == 0:
        return math.nan
    dx = predicted["x"].to_numpy(float)[:, None] - truth["x"].to_numpy(float)
    dy = predicted["y"].to_numpy(float)[:, None] - truth["y"].to_numpy(float)
    return float(np.nanmin(np.hypot(dx, dy)))


def median_revisit_h(times: Sequence[pd.Timestamp] | pd.Series) -> float:
    """Median hours between consecutive acquisition times (NaN with fewer than two)."""
    order = pd.to_datetime(pd.Series(list(times)), utc=True).sort_values()
    gaps = order.diff().dropna() / _HOUR
    return float(gaps.median()) if len(gaps) else math.nan


def interval_text(row: pd.Series) -> str:
    """A score row's confidence interval of the median error, ``"lo-hi"`` in hours with one
    decimal, or ``"-"`` when there is none."""
    lo, hi = row["median_err_lo_h"], row["median_err_hi_h"]
    return "-" if pd.isna(lo) else f"{lo:.1f}-{hi:.1f}"


def format_scores(scores: pd.DataFrame) -> str:
    """The score table as terminal text (fractions with 2 decimals, hours with 1)."""

    def fraction(v: object) -> str:
        return "-" if pd.isna(v) else f"{float(v):.2f}"  # type: ignore[arg-type]

    def hours(v: object) -> str:
        return "-" if pd.isna(v) else f"{float(v):.1f}"  # type: ignore[arg-type]

    shown = scores.assign(interval=[interval_text(row) for _, row in scores.iterrows()])
    headers = {
        "type": "true type",
        "median_abs_err_h": "median |err| h",
        "n_bounded": "n_bounded",
        "interval": f"{MEDIAN_INTERVAL_LEVEL:.0%} interval h",
    }
    formatters = {c: fraction for c in ("precision", "recall", "f1", "type_acc", "coverage")}
    return format_table(
        shown,
        [c for c in SCORE_COLUMNS if c not in ("median_err_lo_h", "median_err_hi_h")]
        + ["interval"],
        headers=headers,
        formatters={**formatters, "median_abs_err_h": hours},
    )

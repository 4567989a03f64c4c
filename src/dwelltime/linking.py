"""Association of detections across scenes into stays (one aircraft, one continuous presence).

Rules, applied in the order listed (all parameters in :class:`LinkConfig`, defaults there):

* **Per airport, in time order.** Scenes are the union of the coverage and detection scenes of
  one airport, sorted by acquisition time. At each scene the open tracks and the scene's
  detections are matched by one global assignment (``scipy.optimize.linear_sum_assignment``),
  not greedily, so several aircraft of one type side by side stay distinct.
* **Cost** (dimensionless, lower is better) = centre distance / ``distance_scale_m``
  + axial heading difference / ``heading_scale_deg`` (+ ``flip_cost`` when the noses point more
  than 90° apart: a detector may swap nose and tail, so a flip is penalised, not forbidden)
  + relative size difference (length and span) / ``size_scale``
  + ``type_weight`` × (1 − agreement of the type probabilities). A pair is *gated* (never
  matched) beyond ``max_distance_m``, ``max_heading_diff_deg`` (axial) or ``max_size_diff``.
  Type never gates: a type flip between dates only costs. What the gates cannot tell apart
  is one aircraft: a look-alike that took the stand between two looks continues the stay, so
  two aircraft of one type that swap stands between looks are two stays that never moved,
  each joining two visits (``link_moves`` sees no move either).
* **Coarse imagery measures sizes worse.** Size gates and costs are set for the detector's
  size noise in fine imagery (``size_sigma_ref_m``). Each detection carries its own
  (``size_sigma_m``, from its scene's GSD: about 6.5 m at 3 m); a relative size difference is
  divided by how much noisier the pair is, ``hypot(σ_a, σ_b) / (√2 · size_sigma_ref_m)`` when
  above 1, so an aircraft seen in a 3 m scene between 0.5 m ones is not split off for its
  blurred size. A track's size is the mean of its sightings weighted by score / σ², its σ the
  smallest of theirs. Detections without ``size_sigma_m`` count as fine.
* **Aircraft cut by what a scene saw.** A detection whose footprint reaches nodata, cloud or
  the image edge (``cut``, :func:`dwelltime.detector.merge.georeference`) measures only the
  part seen: its length and span are lower bounds, compared as the larger of themselves and
  the other's (a cut sighting is never gated nor costed for being shorter, only for being
  longer), and its centre, that of the part seen, may lie off the whole aircraft's by half
  what is missing of them, which the centre distance allows for. A track's centre, size and
  type (the detector tells a type by its size too) are those of its whole sightings; of cut
  ones only where it has no other (its size is then a lower bound in turn). So an aircraft
  cut at one look continues its stay rather than starting another that bounds it.
  Detections without ``cut`` count as whole.
* **Missed detections.** A stand is *visible* in a scene when a disc of radius half the
  aircraft length around the track centre lies at least ``min_visible_fraction`` inside the
  union of that scene's coverage geometries. An unmatched track whose stand was visible has
  missed once; it survives up to ``max_visible_misses`` consecutive visible misses and closes
  at the next one. Scenes where the stand was not visible count neither way. Scenes taken
  within :data:`ONE_LOOK_S` (a minute) of each other, images of one satellite pass, are one
  look: a track seen in one of them has not missed in the others, and several showing its
  stand empty count as one miss.
* **One aircraft once per look.** No two aircraft stand within :data:`DUPLICATE_DISTANCE_M`
  of each other (centres of aircraft parked wingtip to wingtip are a span apart). A detection
  within that distance of another of its look already linked is that aircraft detected again
  and joins that detection's track: one of an earlier image of the pass, before the
  assignment; one of its own image (two footprints the detector did not merge), when the
  assignment leaves it unmatched. It starts no other stay, and its score adds no evidence
  (below): a scene counts with its best detection.
* **Close agreement after a while.** Within hours an aircraft on a stand is almost surely the
  one seen there before; the longer nobody saw it, the likelier another one took the stand. A
  track not seen for more than ``close_after_h`` hours (``None``: never strict) is extended
  only by a detection that agrees *closely*: length and span within ``close_size_diff``
  (relative; about the 98th percentile of the detector's size disagreement between two
  sightings of one aircraft) and centre within ``close_distance_m``. The latter defaults
  (``None``) to :data:`COREGISTERED_CLOSE_DISTANCE_M`, the detector's own centre noise,
  between detections of scenes co-registration aligned (``aligned``: :func:`aligned_scenes`,
  ``coreg_status`` ``reference`` or ``ok``; ``dwelltime run`` and ``dwelltime link`` pass
  them), that is where the detection's scene and all the scenes the track's centre comes from
  were aligned; elsewhere to ``max_distance_m``: centres of a scene left unshifted carry its
  misregistration (10 m or more), so a resident aircraft seen there is not split off.
* **Gaps.** A track is not extended by a sighting more than ``max_gap_h`` hours after its
  previous sighting (``None``: no limit); the later sighting starts a new stay. Nobody looked in
  between, so both sides are reported as censored unless a visible absence bounds them.
* **Re-joining across a gap.** With ``rejoin_gaps``, a track closed by the gap rule is joined
  again with the track that starts with the *first* detection at its spot (centre within
  ``max_distance_m``, a cut one's less half of what it misses, as above) after its last
  sighting, when that detection agrees closely (as above, and axial heading within
  ``max_heading_diff_deg``), the stand was visible in no scene in
  between (nobody looked: a seen absence across a gap is taken at its word, unlike a miss
  inside a track), and each side passes the false-positive rule below on its own (two stray
  detections days apart make no stay). Being the first detection there, nothing else was
  seen at that spot in between. A resident seen again after a long revisit gap thus stays
  one stay.
* **Absorbing sightings inside a stay.** Two aircraft cannot stand on one spot at once: a
  track whose sightings all lie strictly between the first and last sighting of another
  track that passes the false-positive rule below, at times where that track has no
  sighting (scenes taken at one time are one look), and whose centre is within
  ``absorb_distance_m`` of it (``None``: never), is the same aircraft measured badly (size,
  heading or type off the gates) and its sightings join that track (the nearest such one).
  The scenes it fills no longer count as misses.
* **False positives.** A stay needs evidence ``1 − Π(1 − score_i)`` over its scenes (each its
  best detection of the stay) of at
  least ``min_score_single`` (scores read as probabilities that a detection is real, taken as
  independent): a stay seen once needs a score of at least ``min_score_single``, one seen
  twice with low scores needs their combination to reach it. Weaker stays are dropped, except
  at a known stand:
* **Known stands.** Aircraft park on stands; stray detections (buildings, vehicles) mostly do
  not. A stay too weak for the rule above is kept when its centre is within
  ``stand_distance_m`` (``None``: never) of a stay that passes it on its own and the two do
  not overlap in time (it stood there before or after).
* **Type** of a stay = argmax of the score-weighted mean of its detections' type probabilities
  (``unknown`` only when no detection names a type); ``type_prob`` = that mean.
* **Dwell bounds** (:mod:`dwelltime.dwell`): from the first and last sighting, search outwards
  for the nearest scene where the stand was visible. If no detection there is compatible (within
  the gates) with the stay, that scene is the visible absence ``t_a`` / ``t_b``; if a compatible
  aircraft of another stay stands there, we cannot tell whether ours left, so that end is
  censored. A scene of the look of the first (last) sighting bounds nothing (``t_a < t_i``,
  ``t_b > t_j``, by more than :data:`ONE_LOOK_S`): the search goes on past it. Each open end
  says why (``start_open_reason`` / ``end_open_reason``, :data:`OPEN_REASONS`).
* **Dwell estimate.** ``dwell_est_h`` is the median dwell given the arrival and departure
  windows under a prior fitted to the airport's own stays (:func:`dwell_priors`,
  :func:`dwelltime.dwell.fitted_prior`: how long stays are here, from all their windows,
  allowing for long stays being imaged more often), shrunk towards the log-uniform prior by
  ``prior_strength`` stays' worth of weight; ``prior_strength=None``: the log-uniform prior.
* **Moves.** An aircraft towed to another stand is a new stay by default. With
  ``link_moves=True``, a stay and one of the same type (and size within the gate) that starts at
  the airport's very next acquisition time (any of its scenes; never one taken at the time the
  stay was last seen: that is another aircraft) more than ``max_distance_m`` away are joined
  (one assignment per time, ties broken by place, not by scene ids); the joined stay takes ``t_a``
  of the first part, ``t_b`` of the last, the position of the last and counts the joins in
  ``moves``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from dwelltime.dwell import (
    PRIOR_STRENGTH,
    DwellPrior,
    dwell_estimate,
    dwell_interval,
    log_uniform_prior,
    stay_windows,
    stays_prior,
)
from dwelltime.errors import SettingsError
from dwelltime.schema import (
    ALIGNED_STATUSES,
    COVERAGE_COLUMNS,
    DETECTION_COLUMNS,
    STAY_COLUMNS,
    UTC_TIMESTAMP,
    fits_annotation,
    require_columns,
)
from dwelltime.tables import counted, few
from dwelltime.tiling import Visibility

#: Extra stay columns made here (besides ``STAY_COLUMNS``).
STAY_EXTRA_COLUMNS: tuple[str, ...] = (
    "start_bounded_by",  # scene_id of t_a, "" when censored at the start
    "end_bounded_by",  # scene_id of t_b, "" when censored at the end
    "scene_ids",  # ";"-joined scene ids of the sightings, in time order
    "n_missed",  # visible misses tolerated inside the stay
    "moves",  # number of tows joined into this stay (link_moves=True), else 0
    "heading_deg",  # heading of the best-scoring detection, degrees clockwise from grid north
    "length_m",  # score-weighted mean length, metres
    "wingspan_m",  # score-weighted mean wingspan, metres
    "score_max",  # best detection score of the stay
    "start_open_reason",  # why the start is censored (OPEN_REASONS), "" when bounded
    "end_open_reason",  # why the end is censored (OPEN_REASONS), "" when bounded
    "apron_id",  # ";"-joined ids of the aprons the stay stands on (coverage), "" when none
)

#: Why an end of a stay is open (censored), as ``start_open_reason`` / ``end_open_reason`` say:
#: no earlier (later) scene of the airport; none saw the stand (cloud, nodata, outside the
#: image); the nearest that did shows a like aircraft of another stay; as that, but over
#: ``max_gap_h`` after the sighting (maybe the same aircraft). The texts are the legend
#: :func:`dwelltime.report.link_rules` prints (``{max_gap_h:g}``: hours).
OPEN_REASONS: dict[str, str] = {
    "edge": "imagery begins/ends",
    "unseen": "no scene saw the stand",
    "occupied": "a like aircraft of another stay stood there",
    "gap": "occupied after over {max_gap_h:g} h unseen",
}

_STAY_DTYPES: dict[str, str] = {
    "stay_id": "str",
    "airport": "str",
    "type": "str",
    "type_prob": "float64",
    "x": "float64",
    "y": "float64",
    "first_seen": UTC_TIMESTAMP,
    "last_seen": UTC_TIMESTAMP,
    "last_absent_before": UTC_TIMESTAMP,
    "first_absent_after": UTC_TIMESTAMP,
    "n_seen": "int64",
    "dwell_min_h": "float64",
    "dwell_max_h": "float64",
    "dwell_est_h": "float64",
    "censored_start": "bool",
    "censored_end": "bool",
    "detection_ids": "str",
    "start_bounded_by": "str",
    "end_bounded_by": "str",
    "scene_ids": "str",
    "n_missed": "int64",
    "moves": "int64",
    "heading_deg": "float64",
    "length_m": "float64",
    "wingspan_m": "float64",
    "score_max": "float64",
    "start_open_reason": "str",
    "end_open_reason": "str",
    "apron_id": "str",
}

_UNKNOWN = "unknown"


@dataclass(frozen=True)
class LinkConfig:
    """Gates, cost scales and rules of the association; see the module docstring."""

    max_distance_m: float = 15.0  # gate on centre distance, metres
    distance_scale_m: float = 5.0  # metres that cost 1
    max_heading_diff_deg: float = 30.0  # gate on axial heading difference, degrees
    heading_scale_deg: float = 15.0  # degrees that cost 1
    flip_cost: float = 1.0  # extra cost when the noses point > 90° apart
    max_size_diff: float = 0.25  # gate on |Δ| / larger, for length and for span
    size_scale: float = 0.1  # relative size difference that costs 1
    size_sigma_ref_m: float = 2.7  # size noise (σ, m) the size gates are set for: 0.5 m imagery
    type_weight: float = 1.0  # cost of a complete type disagreement
    max_visible_misses: int = 1  # consecutive visible misses a track survives
    min_score_single: float = 0.65  # least evidence 1 − Π(1 − score) of a stay
    max_gap_h: float | None = 72.0  # longest time between sightings of one stay, hours
    close_distance_m: float | None = None  # centres within, m; None: 5 where aligned, else max
    close_size_diff: float = 0.2  # and length and span within this (relative)
    close_after_h: float | None = 12.0  # unseen longer than this, hours: close matches only
    rejoin_gaps: bool = True  # re-join across max_gap_h by a close match (module docstring)
    absorb_distance_m: float | None = 15.0  # absorb a track inside another within this, m
    stand_distance_m: float | None = 5.0  # weak stays kept this close to a real one, metres
    min_visible_fraction: float = 0.8  # share of the stand disc inside the coverage
    fallback_length_m: float = 40.0  # stand disc diameter when a length is unknown, metres
    link_moves: bool = False  # join a stay with one starting elsewhere at the next scene
    prior_strength: float | None = PRIOR_STRENGTH  # stays' worth of log-uniform in the fitted prior

    def __post_init__(self) -> None:
        self._check_types()
        for f in dataclasses.fields(self):  # numpy scalars (a notebook's np.arange) as Python's,
            value = getattr(self, f.name)  # so run.json can hold them and the repr reads plain
            if isinstance(value, np.generic):
                object.__setattr__(self, f.name, value.item())
        positive = ("max_distance_m", "distance_scale_m", "max_heading_diff_deg")
        positive += ("heading_scale_deg", "max_size_diff", "size_scale", "fallback_length_m")
        positive += ("size_sigma_ref_m",)
        positive += ("close_size_diff",)
        for name in positive:
            if not getattr(self, name) > 0:
                raise SettingsError(f"LinkConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("flip_cost", "type_weight", "min_score_single"):
            if not getattr(self, name) >= 0:
                raise SettingsError(f"LinkConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 < self.min_visible_fraction <= 1:
            raise SettingsError(
                f"LinkConfig.min_visible_fraction must be in (0, 1], "
                f"got {self.min_visible_fraction!r}"
            )
        if self.max_heading_diff_deg > 90:
            raise SettingsError("LinkConfig.max_heading_diff_deg is axial: give at most 90 degrees")
        if not self.max_visible_misses >= 0:
            raise SettingsError(
                f"LinkConfig.max_visible_misses must be an int >= 0, "
                f"got {self.max_visible_misses!r}"
            )
        optional = ("max_gap_h", "close_after_h", "close_distance_m", "absorb_distance_m")
        for name in (*optional, "stand_distance_m"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise SettingsError(f"LinkConfig.{name} must be > 0 or None, got {value!r}")
        if self.prior_strength is not None and not self.prior_strength >= 0:
            raise SettingsError(
                f"LinkConfig.prior_strength must be >= 0 or None, got {self.prior_strength!r}"
            )
        if self.min_score_single > 1:
            raise SettingsError(
                f"LinkConfig.min_score_single is a probability: give at most 1, "
                f"got {self.min_score_single!r}"
            )

    def _check_types(self) -> None:
        """SettingsError (a ValueError) naming the first field that is not a number (``"24"``
        from a notebook), None where None is not allowed, or a switch that is not a bool,
        rather than a comparison's TypeError."""
        for f in dataclasses.fields(self):
            value, (kind, _, optional) = getattr(self, f.name), str(f.type).partition(" | ")
            if not fits_annotation(value, str(f.type)):
                what = {"bool": "True or False", "int": "a whole number"}.get(kind, "a number")
                what += " or None" if optional else ""
                raise SettingsError(f"LinkConfig.{f.name} must be {what}, got {value!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> LinkConfig:
        """A config from a mapping (e.g. a YAML section); unknown keys are rejected."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"unknown LinkConfig keys {unknown}; valid keys are {sorted(known)}"
            )
        return cls(**values)  # type: ignore[arg-type]


def as_link_config(value: LinkConfig | Mapping[str, object] | None) -> LinkConfig:
    """``value`` as a :class:`LinkConfig`: itself, the defaults for None, or a mapping of its
    fields (:meth:`LinkConfig.from_dict`: an unknown key is a SettingsError, a ValueError,
    naming the valid ones); TypeError for anything else. The API checks it before any detection."""
    if value is None:
        return LinkConfig()
    if isinstance(value, LinkConfig):
        return value
    if isinstance(value, Mapping):
        return LinkConfig.from_dict(value)
    raise TypeError(f"link rules: give a LinkConfig or a mapping of its fields, not {value!r}")


#: ``close_distance_m`` for co-registered scenes, metres: the detector's own centre noise.
COREGISTERED_CLOSE_DISTANCE_M = 5.0


def aligned_scenes(scenes: pd.DataFrame) -> frozenset[str]:
    """Ids of the scenes of ``scenes`` (the scenes layer, or the offsets of
    :func:`dwelltime.coregister.coregister_scenes`) that co-registration aligned
    (``coreg_status`` in :data:`~dwelltime.schema.ALIGNED_STATUSES`), as :func:`link_stays`
    takes them (``aligned``); none without the column (co-registration off)."""
    if "coreg_status" not in scenes.columns:
        return frozenset()
    return frozenset(
        scenes.loc[scenes["coreg_status"].isin(ALIGNED_STATUSES), "scene_id"].astype(str)
    )


@dataclass(frozen=True)
class _State:
    """What a track (or stay) looks like, for matching."""

    x: float
    y: float
    heading: float
    length: float
    span: float
    size_sigma: float  # σ of length and span, metres: that of the best sighting
    types: dict[str, float]  # score-weighted mean type probabilities
    cut: bool  # every sighting cut: x, y are of parts seen, length and span lower bounds
    aligned: bool  # x, y come from sightings in co-registered scenes only


@dataclass
class _Track:
    rows: list[int]  # positions in the airport's detection arrays
    misses: int = 0  # consecutive visible misses since the last sighting
    missed_at: list[int] = field(default_factory=list)  # scene indices of visible misses
    closed_by_gap: bool = False  # closed because the next scene came after max_gap_h


@dataclass
class _Stay:
    """One linked stay before it becomes a row: one or more tracks (more when moves joined)."""

    parts: list[_Track]
    #: (t_a or NaT, its scene_id or "", why it is open or "": OPEN_REASONS)
    bound_before: tuple[pd.Timestamp, str, str] = (pd.NaT, "", "edge")
    bound_after: tuple[pd.Timestamp, str, str] = (pd.NaT, "", "edge")
    first_index: int = 0  # airport scene index of the first sighting
    last_index: int = 0
    rows: list[int] = field(default_factory=list)


class _Detections:
    """One airport's detections as plain arrays, plus the per-scene grouping."""

    def __init__(
        self, frame: pd.DataFrame, config: LinkConfig, aligned: Collection[str] = ()
    ) -> None:
        self.frame = frame.reset_index(drop=True)
        f = self.frame
        self.sigma_ref = config.size_sigma_ref_m
        sigma = (
            f["size_sigma_m"].to_numpy(float) if "size_sigma_m" in f else np.full(len(f), np.nan)
        )
        self.sigma = np.where(sigma > 0, sigma, self.sigma_ref)  # unknown (NaN): fine
        #: the aircraft may reach beyond what its scene saw (a missing or empty value: whole)
        self.cut = f["cut"].eq(True).to_numpy() if "cut" in f else np.zeros(len(f), bool)
        self.x = f["x"].to_numpy(float)
        self.y = f["y"].to_numpy(float)
        self.heading = f["heading_deg"].to_numpy(float)
        self.length = f["length_m"].to_numpy(float)
        self.span = f["wingspan_m"].to_numpy(float)
        self.type = f["type"].astype(str).to_numpy()
        #: the distinct types, and each row's position among them
        self.type_names, self.type_code = np.unique(self.type, return_inverse=True)
        self.type_prob = f["type_prob"].to_numpy(float)
        self.score = f["score"].to_numpy(float)
        self.scene_id = f["scene_id"].astype(str).to_numpy()
        self.detection_id = f["detection_id"].astype(str).to_numpy()
        #: its scene was co-registered (:func:`aligned_scenes`)
        self.aligned = np.isin(self.scene_id, list(aligned))
        self.by_scene: dict[str, np.ndarray] = {
            str(k): np.asarray(v) for k, v in f.groupby("scene_id").indices.items()
        }

    def state(self, rows: list[int]) -> _State:
        r = np.asarray(rows)
        w = np.clip(self.score[r], 1e-6, None)
        best = r[int(np.argmax(self.score[r]))]
        whole = ~self.cut[r]
        m, wm = (r[whole], w[whole]) if whole.any() else (r, w)  # where it was seen whole
        types: dict[str, float] = {}  # a cut one's type was told by its short size
        for t, p, wi in zip(self.type[m], self.type_prob[m], wm, strict=True):
            types[t] = types.get(t, 0.0) + float(p) * float(wi)
        total = float(wm.sum())
        precise = wm / self.sigma[m] ** 2
        return _State(
            x=float(np.average(self.x[m], weights=wm)),
            y=float(np.average(self.y[m], weights=wm)),
            heading=float(self.heading[best]),
            length=_weighted_nanmean(self.length[m], precise),
            span=_weighted_nanmean(self.span[m], precise),
            size_sigma=float(self.sigma[m].min()),
            types={t: v / total for t, v in types.items()},
            cut=not whole.any(),
            aligned=bool(self.aligned[m].all()),
        )

    def size_diffs(
        self,
        length: ArrayLike,
        span: ArrayLike,
        sigma: ArrayLike,
        state: _State,
        cut: ArrayLike = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Relative length and span differences of sizes measured with noise ``sigma`` (m)
        from ``state``'s, in units of fine-imagery noise; a cut size (``cut``, and the
        state's when ``state.cut``) is a lower bound (module docstring)."""
        length, span, sigma = (np.asarray(v, dtype=float) for v in (length, span, sigma))
        noisier = np.hypot(sigma, state.size_sigma) / (np.sqrt(2.0) * self.sigma_ref)
        scale = np.maximum(noisier, 1.0)
        return (
            _relative_diff(*_bounded(length, state.length, cut, state.cut)) / scale,
            _relative_diff(*_bounded(span, state.span, cut, state.cut)) / scale,
        )

    def distance(self, state: _State, rows: np.ndarray) -> np.ndarray:
        """Centre distance (metres) of detections ``rows`` from ``state``'s, less half of what
        a cut size misses of the other: a cut aircraft's centre is its seen part's."""
        length, span, cut = self.length[rows], self.span[rows], self.cut[rows]
        missing = np.hypot(
            _shortfall(length, state.length, cut, state.cut),
            _shortfall(span, state.span, cut, state.cut),
        )
        dist = np.hypot(self.x[rows] - state.x, self.y[rows] - state.y)
        return np.maximum(dist - missing / 2, 0.0)

    def costs(self, state: _State, rows: np.ndarray, config: LinkConfig) -> np.ndarray:
        """Matching cost of ``state`` against detections ``rows``; ``inf`` where gated."""
        dist = self.distance(state, rows)
        diff = np.abs((self.heading[rows] - state.heading + 180.0) % 360.0 - 180.0)  # [0, 180]
        axial = np.minimum(diff, 180.0 - diff)
        flipped = diff > 90.0
        rel_length, rel_span = self.size_diffs(
            self.length[rows], self.span[rows], self.sigma[rows], state, self.cut[rows]
        )
        track_probs = np.array([state.types.get(t, 0.0) for t in self.type_names])
        agreement = track_probs[self.type_code[rows]] * self.type_prob[rows]
        agreement = np.where(self.type[rows] == _UNKNOWN, 0.0, agreement)
        axial = np.nan_to_num(axial, nan=0.0)
        cost = (
            dist / config.distance_scale_m
            + axial / config.heading_scale_deg
            + config.flip_cost * np.nan_to_num(flipped, nan=0.0)
            + (rel_length + rel_span) / config.size_scale
            + config.type_weight * (1.0 - agreement)
        )
        gated = (
            (dist > config.max_distance_m)
            | (axial > config.max_heading_diff_deg)
            | (rel_length > config.max_size_diff)
            | (rel_span > config.max_size_diff)
        )
        return np.where(gated, np.inf, cost)


def _weighted_nanmean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")


def _bounded(
    values: np.ndarray, reference: float, cut: ArrayLike, reference_cut: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` and ``reference`` to compare, each cut one (a lower bound of the aircraft's
    size) raised to the other where the other is larger."""
    values, cut = np.asarray(values, dtype=float), np.asarray(cut, dtype=bool)
    raised = np.where(cut, np.maximum(values, reference), values)
    other = np.maximum(reference, values) if reference_cut else np.full_like(values, reference)
    return raised, other


def _shortfall(
    values: np.ndarray, reference: float, cut: np.ndarray, reference_cut: bool
) -> np.ndarray:
    """How much shorter (metres) than the other each cut size is: 0 where neither is cut or a
    size is unknown."""
    short = np.where(cut, np.clip(reference - values, 0.0, None), 0.0)
    if reference_cut:
        short = short + np.clip(values - reference, 0.0, None)
    return np.nan_to_num(short)


def _relative_diff(values: np.ndarray, reference: float | np.ndarray) -> np.ndarray:
    """|a − b| / max(a, b); 0 where either size is unknown."""
    larger = np.maximum(values, reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(values - reference) / larger
    return np.nan_to_num(rel, nan=0.0, posinf=0.0)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one matching that never uses a gated (infinite) pair, as (row,
    column) pairs in row order: one assignment over the whole matrix, gated pairs at a
    prohibitive cost, solved per group of rows and columns that allowed pairs connect (the
    same matching: a busy scene's matrix has thousands of rows, its groups a few each)."""
    finite = np.isfinite(cost)
    if not finite.any():
        return []
    big = np.nanmax(cost[finite]) * 2 + 1e6
    n = cost.shape[0]
    r, c = np.nonzero(finite)
    graph = coo_matrix((np.ones(len(r), bool), (r, n + c)), shape=(n + cost.shape[1],) * 2)
    label = connected_components(graph, directed=False)[1]
    order = np.argsort(label, kind="stable")
    pairs = []
    for members in np.split(order, np.flatnonzero(np.diff(label[order])) + 1):
        rows, cols = members[members < n], members[members >= n] - n
        if not (len(rows) and len(cols)):
            continue  # a row or column no allowed pair touches
        sub = cost[np.ix_(rows, cols)]
        picked = zip(*linear_sum_assignment(np.where(np.isfinite(sub), sub, big)), strict=True)
        pairs += [(int(rows[i]), int(cols[j])) for i, j in picked if np.isfinite(sub[i, j])]
    return sorted(pairs)


def stand_radius(length_m: np.ndarray | float, config: LinkConfig = LinkConfig()) -> np.ndarray:
    """Radius of the stand disc used for visibility: half the aircraft length, metres."""
    length = np.asarray(length_m, float)
    return 0.5 * np.where(np.isfinite(length), length, config.fallback_length_m)


def stay_visibility(
    stays: gpd.GeoDataFrame, coverage: gpd.GeoDataFrame, config: LinkConfig = LinkConfig()
) -> pd.DataFrame:
    """Bool table (index ``stay_id``, one column per scene of the stay's airport, in time order
    across all airports): was the stay's stand visible in that scene? Missing pairs are False."""
    order = coverage.sort_values(["acquired", "scene_id"])["scene_id"].astype(str).unique()
    table = pd.DataFrame(False, index=stays["stay_id"].astype(str), columns=list(order))
    for airport, group in stays.groupby("airport"):
        cover = coverage[coverage["airport"] == airport]
        vis = Visibility(cover, min_fraction=config.min_visible_fraction)
        radius = stand_radius(group["length_m"].to_numpy(float), config)
        x, y = group["x"].to_numpy(float), group["y"].to_numpy(float)
        for scene_id in cover["scene_id"].astype(str).unique():
            table.loc[group["stay_id"].astype(str).to_numpy(), scene_id] = vis.visible(
                scene_id, x, y, radius
            )
    return table


def scene_times(detections: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """``scene_id``, ``acquired`` (UTC) of every scene named in either frame, in time order."""
    scenes = pd.concat(
        [detections[["scene_id", "acquired"]], coverage[["scene_id", "acquired"]]],
        ignore_index=True,
    )
    scenes["scene_id"] = scenes["scene_id"].astype(str)
    scenes["acquired"] = pd.to_datetime(scenes["acquired"], utc=True)
    scenes = scenes.drop_duplicates("scene_id").sort_values(["acquired", "scene_id"])
    return scenes.reset_index(drop=True)


#: Seconds within which scenes are one look: images of one satellite pass (a strip's frames,
#: overlapping strips) are taken seconds apart, and no aircraft reaches or leaves a stand in
#: that time, so one showing the stand empty bounds no stay another shows there.
ONE_LOOK_S = 60.0


#: Metres within which two detections of one look are one aircraft detected twice: the
#: detector's own centre noise, well under the ≥ 15 m between the centres of the smallest
#: aircraft parked wingtip to wingtip.
DUPLICATE_DISTANCE_M = 5.0


def scene_looks(acquired: pd.Series) -> np.ndarray:
    """The look (0, 1, …) of each scene of ``acquired`` (UTC, in time order): a scene taken
    within :data:`ONE_LOOK_S` seconds of the one before is of its look."""
    apart = acquired.diff().to_numpy() > np.timedelta64(int(ONE_LOOK_S * 1e6), "us")
    return np.cumsum(apart).astype(int)


class _AirportLinker:
    """Links one airport's detections; see the module docstring for the rules."""

    def __init__(
        self,
        detections: pd.DataFrame,
        coverage: gpd.GeoDataFrame,
        config: LinkConfig,
        aligned: Collection[str] = (),
    ) -> None:
        self.config = config
        self.det = _Detections(detections, config, aligned)
        self.scenes = scene_times(detections, coverage)
        self.scene_ids = self.scenes["scene_id"].tolist()
        #: each scene was co-registered (:func:`aligned_scenes`)
        self.scene_aligned = np.isin(self.scene_ids, list(aligned))
        self.times = list(self.scenes["acquired"])
        self.time_index = pd.DatetimeIndex(self.scenes["acquired"])  # self.times, UTC
        self.vis = Visibility(coverage, min_fraction=config.min_visible_fraction)
        index_of = {s: i for i, s in enumerate(self.scene_ids)}
        #: the gates of a close match (``close_distance_m``, ``close_size_diff``), and those
        #: between co-registered scenes (:meth:`_close_gates`)
        self.close_config = dataclasses.replace(
            config,
            max_distance_m=config.close_distance_m or config.max_distance_m,
            max_size_diff=config.close_size_diff,
        )
        self.aligned_close_config = dataclasses.replace(
            self.close_config,
            max_distance_m=config.close_distance_m or COREGISTERED_CLOSE_DISTANCE_M,
        )
        #: airport scene index of each detection row
        self.row_scene = np.array([index_of[s] for s in self.det.scene_id], dtype=int)
        #: look of each scene (:func:`scene_looks`), and of each row
        self.scene_look = scene_looks(self.scenes["acquired"])
        self.row_look = self.scene_look[self.row_scene]
        #: detection rows of each look (all its scenes)
        self.rows_at: dict[int, np.ndarray] = {
            int(look): np.asarray(v)
            for look, v in pd.Series(self.row_look).groupby(self.row_look).indices.items()
        }
        #: the rows of its look within DUPLICATE_DISTANCE_M of each row (rows with any)
        self.twins: dict[int, list[int]] = {}
        for look_rows in self.rows_at.values():
            placed = look_rows[np.isfinite(self.det.x[look_rows] + self.det.y[look_rows])]
            centres = np.column_stack([self.det.x[placed], self.det.y[placed]])
            for i, j in cKDTree(centres).query_pairs(DUPLICATE_DISTANCE_M):
                self.twins.setdefault(int(placed[i]), []).append(int(placed[j]))
                self.twins.setdefault(int(placed[j]), []).append(int(placed[i]))

    def tracks(self, progress: Callable[[int, int], None] | None = None) -> list[_Track]:
        config, det = self.config, self.det
        open_tracks: list[_Track] = []
        closed: list[_Track] = []
        n = len(self.scene_ids)
        seen_empty: dict[int, int] = {}  # id(track) → first scene of this time showing it empty
        linked: dict[int, _Track] = {}  # detection row → its track, of this look's rows so far
        cache: dict[int, tuple[int, _State]] = {}  # id(track) → (sightings, state of them)
        for k, (scene_id, time) in enumerate(zip(self.scene_ids, self.times, strict=True)):
            if config.max_gap_h is not None:
                limit = pd.Timedelta(hours=config.max_gap_h)
                stale = [t for t in open_tracks if time - self._last_time(t) > limit]
                for track in stale:
                    track.closed_by_gap = True
                closed += stale
                open_tracks = [t for t in open_tracks if not t.closed_by_gap]
            scene_rows = det.by_scene.get(scene_id, np.empty(0, int))
            # a detection whose twin an earlier image of its look linked is that aircraft
            # again: it goes with the twin (_new_tracks), not into the assignment
            twinned = [int(r) for r in scene_rows if self._twin(int(r), linked) is not None]
            rows = np.setdiff1d(scene_rows, twinned)
            states = [self._state(t, cache) for t in open_tracks]
            gates = [self._gates(t, s, k) for t, s in zip(open_tracks, states, strict=True)]
            pairs = _assign(self._cost_matrix(states, gates, rows))
            matched_tracks = {r for r, _ in pairs}
            for r, c in pairs:
                track = open_tracks[r]
                track.rows.append(int(rows[c]))
                track.misses = 0
                linked[int(rows[c])] = track
            matched_rows = {c for _, c in pairs}
            unmatched = [i for i in range(len(open_tracks)) if i not in matched_tracks]
            if unmatched:
                sx = np.array([states[i].x for i in unmatched])
                sy = np.array([states[i].y for i in unmatched])
                radius = stand_radius(np.array([states[i].length for i in unmatched]), config)
                seen_visible = self.vis.visible(scene_id, sx, sy, radius)
                for i, visible in zip(unmatched, seen_visible, strict=True):
                    if visible:
                        seen_empty.setdefault(id(open_tracks[i]), k)
            left = [int(rows[c]) for c in range(len(rows)) if c not in matched_rows]
            open_tracks += self._new_tracks(left + twinned, linked)
            if k + 1 == n or self.scene_look[k + 1] != self.scene_look[k]:  # its look's last
                open_tracks, ended = self._count_misses(open_tracks, seen_empty, k)
                closed += ended
                seen_empty, linked = {}, {}
            if progress is not None:
                progress(k + 1, n)
        return closed + open_tracks

    def _new_tracks(self, rows: list[int], linked: dict[int, _Track]) -> list[_Track]:
        """The new tracks of a scene's detection ``rows`` that no open track took: best score
        first, a row with a twin (:meth:`_twin`) joins its track, as the same aircraft
        detected twice; each other row starts a track. ``linked`` is updated."""
        new = []
        for row in sorted(rows, key=lambda r: -self.det.score[r]):
            track = self._twin(row, linked)
            if track is None:
                track = _Track(rows=[row])
                new.append(track)
            else:
                track.rows.append(row)
            linked[row] = track
        return new

    def _twin(self, row: int, linked: dict[int, _Track]) -> _Track | None:
        """The track of the nearest detection of ``row``'s look within
        :data:`DUPLICATE_DISTANCE_M` already linked (``linked``: row → track), if any."""
        det = self.det
        twins = [r for r in self.twins.get(row, ()) if r in linked]
        if not twins:
            return None
        distance = np.hypot(det.x[twins] - det.x[row], det.y[twins] - det.y[row])
        return linked[twins[int(np.argmin(distance))]]

    def _cost_matrix(
        self, states: list[_State], gates: list[LinkConfig], rows: np.ndarray
    ) -> np.ndarray:
        """(tracks, detections) matching costs of ``states`` (each with its ``gates``) against
        detection ``rows``, ``inf`` where gated. Only the detections within a track's distance
        gate (a KD-tree of the scene's centres), widened by half of what a cut size may miss of
        the other (:meth:`_Detections.costs`), are costed: a scene of 2,000 aircraft costs
        each track its few neighbours, not all 2,000."""
        det = self.det
        cost = np.full((len(states), len(rows)), np.inf)
        placed = np.isfinite(det.x[rows]) & np.isfinite(det.y[rows])  # NaN centres never match
        if not states or not placed.any():
            return cost
        columns = np.flatnonzero(placed)
        tree = cKDTree(np.column_stack([det.x[rows[columns]], det.y[rows[columns]]]))
        centres = np.nan_to_num([(s.x, s.y) for s in states], nan=np.inf)
        reach = np.zeros(len(states))  # metres a cut detection may lie beyond the gate
        length, span = det.length[rows[columns]], det.span[rows[columns]]
        if det.cut[rows[columns]].any():  # half the track's size, all of which it may miss
            reach = 0.5 * np.hypot([s.length for s in states], [s.span for s in states])
        partial = np.array([s.cut for s in states])  # half the largest detection's size
        if partial.any():
            largest = 0.5 * np.fmax.reduce(np.hypot(length, span))
            reach = np.where(partial, np.fmax(reach, largest), reach)
        radii = (np.array([g.max_distance_m for g in gates]) + np.nan_to_num(reach)) * (1 + 1e-9)
        for i, near in enumerate(tree.query_ball_point(centres, radii)):
            if near:
                mine = columns[near]
                cost[i, mine] = det.costs(states[i], rows[mine], gates[i])
        return cost

    def _state(self, track: _Track, cache: dict[int, tuple[int, _State]]) -> _State:
        """The state of ``track``'s sightings, computed again only after sightings were
        added (``cache``: id → number of sightings and their state; tracks only grow here)."""
        count, state = cache.get(id(track), (0, None))
        if state is None or count != len(track.rows):
            state = self.det.state(track.rows)
            cache[id(track)] = (len(track.rows), state)
        return state

    def _count_misses(
        self, tracks: list[_Track], seen_empty: dict[int, int], k: int
    ) -> tuple[list[_Track], list[_Track]]:
        """After the scenes of the look of scene index ``k``: a track that one of them showed
        empty (``seen_empty``: id → scene index) and none showed has missed once; tracks past
        ``max_visible_misses`` close. Returns the open and the closed tracks."""
        still_open: list[_Track] = []
        ended: list[_Track] = []
        for track in tracks:
            missed = seen_empty.get(id(track))
            if missed is not None and self.row_look[track.rows[-1]] != self.scene_look[k]:
                track.misses += 1
                track.missed_at.append(missed)
            (ended if track.misses > self.config.max_visible_misses else still_open).append(track)
        return still_open, ended

    def _gates(self, track: _Track, state: _State, k: int) -> LinkConfig:
        """The usual gates of ``track`` (its ``state``) at scene index ``k``, or the close ones
        (:meth:`_close_gates`) when it was unseen for ``close_after_h`` by then."""
        after = self.config.close_after_h
        unseen = self.times[k] - self._last_time(track)
        if after is not None and unseen > pd.Timedelta(hours=after):
            return self._close_gates(state, bool(self.scene_aligned[k]))
        return self.config

    def _close_gates(self, state: _State, aligned: bool) -> LinkConfig:
        """The gates of a close match of ``state`` and a detection whose scene was co-registered
        or not (``aligned``): centres within ``close_distance_m`` when set, else within
        :data:`COREGISTERED_CLOSE_DISTANCE_M` when both were co-registered, ``max_distance_m``
        when not."""
        return self.aligned_close_config if state.aligned and aligned else self.close_config

    def _last_time(self, track: _Track) -> pd.Timestamp:
        return self.times[self.row_scene[track.rows[-1]]]

    def _n_missed(self, track: _Track) -> int:
        """Visible misses of ``track`` followed by a later sighting."""
        last = max(self.row_scene[r] for r in track.rows)
        return sum(k < last for k in track.missed_at)

    def _span(self, track: _Track) -> tuple[int, int]:
        """Looks (``scene_look``) of the first and last sighting."""
        looks = self.row_look[track.rows]
        return int(looks.min()), int(looks.max())

    def rejoin_gaps(self, tracks: list[_Track]) -> list[_Track]:
        """Join each track closed by the gap rule with the track that starts with the first
        detection at its spot afterwards, when it agrees closely (module docstring); a chain
        of gaps joins one link at a time."""
        if not self.config.rejoin_gaps:
            return tracks
        starts = {t.rows[0]: t for t in tracks}
        for track in sorted(tracks, key=lambda t: self._span(t)[1]):
            if track.rows[0] not in starts:
                continue  # already joined to an earlier track
            while track.closed_by_gap and (follower := self._follower(track, starts)):
                track.rows += follower.rows
                track.missed_at += follower.missed_at
                track.closed_by_gap = follower.closed_by_gap
                del starts[follower.rows[0]]
        return [t for t in tracks if starts.get(t.rows[0]) is t]

    def _follower(self, track: _Track, starts: dict[int, _Track]) -> _Track | None:
        """The track starting with the first detection at ``track``'s spot after its last
        sighting, if it continues ``track`` across the gap (module docstring); else None."""
        config, det = self.config, self.det
        state = det.state(track.rows)
        last = self._span(track)[1]
        later = np.flatnonzero(self.row_look > last)
        near = later[det.distance(state, later) <= config.max_distance_m]
        if near.size == 0 or not self._real(track):
            return None
        first = self.row_look[near].min()
        radius = stand_radius(state.length, config)
        between = np.flatnonzero((self.scene_look > last) & (self.scene_look < first))
        if any(self.vis.visible(self.scene_ids[k], state.x, state.y, radius)[0] for k in between):
            return None  # seen empty in between
        for row in near[self.row_look[near] == first]:
            follower = starts.get(int(row))
            gates = self._close_gates(state, bool(det.aligned[row]))
            close = np.isfinite(det.costs(state, np.array([row]), gates)[0])
            if follower is not None and close and self._real(follower):
                return follower
        return None

    def _real(self, track: _Track) -> bool:
        """The false-positive rule: evidence of ``track`` reaches ``min_score_single``, each
        scene counted once, by its best detection (two of one image are one piece of evidence)."""
        best: dict[int, float] = {}
        for r in track.rows:
            scene = int(self.row_scene[r])
            best[scene] = max(best.get(scene, 0.0), float(self.det.score[r]))
        return _evidence(np.fromiter(best.values(), float)) >= self.config.min_score_single

    def _at_known_stands(self, tracks: list[_Track]) -> list[_Track]:
        """The tracks that pass the false-positive rule, plus the weaker ones standing at the
        spot of one that passes, before or after it (module docstring)."""
        real = [self._real(t) for t in tracks]
        limit = self.config.stand_distance_m
        if limit is None or all(real):
            return [t for t, ok in zip(tracks, real, strict=True) if ok]
        x, y, first, last = self._places(tracks)
        stand = np.asarray(real)
        kept = []
        for i, track in enumerate(tracks):
            near = np.hypot(x[stand] - x[i], y[stand] - y[i]) <= limit
            apart = (last[i] < first[stand]) | (first[i] > last[stand])
            if real[i] or (near & apart).any():
                kept.append(track)
        return kept

    def _places(self, tracks: list[_Track]) -> tuple[np.ndarray, ...]:
        """Centre ``x``, ``y`` (metres) and first and last look (:meth:`_span`) of each track."""
        states = [self.det.state(t.rows) for t in tracks]
        spans = np.array([self._span(t) for t in tracks], dtype=int).reshape(-1, 2)
        x = np.array([s.x for s in states])
        y = np.array([s.y for s in states])
        return x, y, spans[:, 0], spans[:, 1]

    def absorb(self, tracks: list[_Track]) -> list[_Track]:
        """Merge each track lying inside a real track's sightings, at its spot and in scenes
        where that one was not seen, into the nearest such track (module docstring)."""
        limit = self.config.absorb_distance_m
        if limit is None or not tracks:
            return tracks
        x, y, first, last = self._places(tracks)
        scenes = [set(self.row_look[t.rows].tolist()) for t in tracks]  # looks seen in
        outer_ok = np.array([self._real(t) for t in tracks])
        absorbed = np.zeros(len(tracks), bool)
        centres = np.column_stack([x, y])
        # the tracks around each one (a few more than within limit: the exact test is below)
        around = cKDTree(centres).query_ball_point(centres, limit * (1 + 1e-9), return_sorted=True)
        for i in sorted(range(len(tracks)), key=lambda i: len(tracks[i].rows)):
            near = np.asarray(around[i], dtype=int)
            distance = np.hypot(x[near] - x[i], y[near] - y[i])
            inside = (first[near] < first[i]) & (last[i] < last[near])
            ok = inside & outer_ok[near] & ~absorbed[near] & (distance <= limit)
            candidates = [
                (d, j)
                for d, j in zip(distance[ok], near[ok], strict=True)
                if j != i and not scenes[i] & scenes[j]
            ]
            if not candidates:
                continue
            j = min(candidates)[1]  # the nearest; the first on a tie
            outer = tracks[j]
            outer.rows = sorted(outer.rows + tracks[i].rows, key=lambda r: self.row_scene[r])
            outer.missed_at = [k for k in outer.missed_at if self.scene_look[k] not in scenes[i]]
            scenes[j] |= scenes[i]
            absorbed[i] = True
        return [t for t, gone in zip(tracks, absorbed, strict=True) if not gone]

    def stays(self, tracks: list[_Track]) -> list[_Stay]:
        config, det = self.config, self.det
        tracks = self.absorb(self.rejoin_gaps(tracks))
        kept = self._at_known_stands(tracks)
        kept_rows = np.zeros(len(det.x), bool)  # detection rows of the kept tracks
        kept_rows[[r for t in kept for r in t.rows]] = True
        stays = []
        for track in kept:
            indices = [self.row_scene[r] for r in track.rows]
            stay = _Stay(
                parts=[track],
                first_index=min(indices),
                last_index=max(indices),
                rows=list(track.rows),
            )
            state = det.state(track.rows)
            before = range(stay.first_index - 1, -1, -1)
            after = range(stay.last_index + 1, len(self.scene_ids))
            stay.bound_before = self._bound(state, before, kept_rows, stay.first_index)
            stay.bound_after = self._bound(state, after, kept_rows, stay.last_index)
            stays.append(stay)
        if config.link_moves:
            stays = self._join_moves(stays)
        return stays

    def _bound(
        self, state: _State, indices: range, kept_rows: np.ndarray, seen: int
    ) -> tuple[pd.Timestamp, str, str]:
        """The nearest visible absence along ``indices`` as (time, scene_id, ""); else
        (NaT, "", reason) with the reason of :data:`OPEN_REASONS`: no other scene (``edge``),
        none saw the stand (``unseen``), or a compatible aircraft of another stay stands
        there in a scene of that look (``occupied``; ``gap`` when over ``max_gap_h`` from the
        sighting). Scenes of the look of the sighting ``seen`` (scene index) are skipped: an
        absence bounds only before the first sighting's look or after the last's.
        ``kept_rows``: bool per detection row, True for the rows of the kept tracks."""
        radius = stand_radius(state.length, self.config)
        reason = "edge"
        for k in indices:
            scene_id = self.scene_ids[k]
            if self.scene_look[k] == self.scene_look[seen]:
                continue
            reason = "unseen"
            if not self.vis.visible(scene_id, state.x, state.y, radius)[0]:
                continue
            rows = self.rows_at.get(int(self.scene_look[k]), np.empty(0, int))
            rows = rows[kept_rows[rows]]
            if np.isfinite(self.det.costs(state, rows, self.config)).any():
                gap = self.config.max_gap_h
                far = gap is not None and abs(self.times[k] - self.times[seen]) > pd.Timedelta(
                    hours=gap
                )
                return pd.NaT, "", "gap" if far else "occupied"
            return self.times[k], scene_id, ""
        return pd.NaT, "", reason

    def _join_moves(self, stays: list[_Stay]) -> list[_Stay]:
        config, det = self.config, self.det
        look = self.scene_look
        measured: dict[tuple[int, ...], _State] = {}

        def state(rows: list[int]) -> _State:
            """``det.state(rows)``, each set of rows measured once: a busy scene has hundreds
            of enders and starters."""
            key = tuple(rows)
            if key not in measured:
                measured[key] = det.state(rows)
            return measured[key]

        # in order of place (metres), so that a tie between like candidates is broken the same
        # way whatever the scenes' ids and the rows' order
        places = {id(s): state(s.rows) for s in stays}
        stays = sorted(stays, key=lambda s: (places[id(s)].x, places[id(s)].y))
        by_last: dict[int, list[_Stay]] = {}  # look of the last sighting → stays
        for s in stays:
            by_last.setdefault(look[s.last_index], []).append(s)
        by_first: dict[int, list[_Stay]] = {}  # look of the first sighting → stays
        for s in stays:
            by_first.setdefault(look[s.first_index], []).append(s)
        joined: set[int] = set()
        for last in sorted(by_last):
            enders = [s for s in by_last[last] if id(s) not in joined]
            starters = [s for s in by_first.get(last + 1, []) if id(s) not in joined]
            if not enders or not starters:
                continue
            cost = np.full((len(enders), len(starters)), np.inf)
            # each ender against all starters at once
            begun = [places[id(starter)] for starter in starters]
            x, y, length, span, sigma, cut = (
                np.array([getattr(sb, name) for sb in begun])
                for name in ("x", "y", "length", "span", "size_sigma", "cut")
            )
            kind = np.array([_argmax_type(sb.types)[0] for sb in begun])
            for a, ender in enumerate(enders):
                sa = state(ender.parts[-1].rows)  # where it was last
                far = np.hypot(x - sa.x, y - sa.y) > config.max_distance_m
                rel, rel_span = det.size_diffs(length, span, sigma, sa, cut)  # symmetric
                ok = far & (kind == _argmax_type(sa.types)[0])
                ok &= np.maximum(rel, rel_span) <= config.max_size_diff
                # to 1e-9: sizes averaged in another order are a tie, not a choice
                cost[a, ok] = np.round((rel + rel_span) / config.size_scale, 9)[ok]
            for a, b in _assign(cost):
                ender, starter = enders[a], starters[b]
                ender.parts += starter.parts
                ender.rows += starter.rows
                ender.last_index = starter.last_index
                ender.bound_after = starter.bound_after
                joined.add(id(starter))
                by_last.setdefault(look[ender.last_index], []).append(ender)
        return [s for s in stays if id(s) not in joined]

    def rows(self, stays: list[_Stay], airport: str) -> list[dict[str, object]]:
        """One stays-table record per stay, in ``stay_id`` order: by first sighting's time,
        then its position (metres; not the fused one, which later sightings move, nor the
        shift co-registration gives the whole scene), so that a scene added after the
        others keeps the ids of the stays it does not change."""
        det = self.det
        records, firsts = [], []
        for stay in stays:
            rows = sorted(stay.rows, key=lambda r: (self.row_scene[r], r))
            last = det.state(stay.parts[-1].rows)
            overall = det.state(rows)
            seen = self.time_index[self.row_scene[rows]]
            absent = [b[0] for b in (stay.bound_before, stay.bound_after) if not pd.isna(b[0])]
            interval = dwell_interval(seen, absent)
            type_, type_prob = _argmax_type(overall.types)
            scene_ids = dict.fromkeys(det.scene_id[rows].tolist())
            firsts.append((interval.first_seen, det.x[rows[0]], det.y[rows[0]]))
            records.append(
                {
                    "airport": airport,
                    "type": type_,
                    "type_prob": type_prob,
                    "x": last.x,
                    "y": last.y,
                    "first_seen": interval.first_seen,
                    "last_seen": interval.last_seen,
                    "last_absent_before": interval.last_absent_before,
                    "first_absent_after": interval.first_absent_after,
                    "n_seen": len(scene_ids),
                    "dwell_min_h": interval.min_h,
                    "dwell_max_h": interval.max_h,
                    "dwell_est_h": interval.est_h,
                    "censored_start": interval.censored_start,
                    "censored_end": interval.censored_end,
                    "detection_ids": ";".join(det.detection_id[rows]),
                    "start_bounded_by": stay.bound_before[1],
                    "end_bounded_by": stay.bound_after[1],
                    "scene_ids": ";".join(scene_ids),
                    "n_missed": sum(self._n_missed(p) for p in stay.parts),
                    "moves": len(stay.parts) - 1,
                    "heading_deg": last.heading,
                    "length_m": overall.length,
                    "wingspan_m": overall.span,
                    "score_max": float(det.score[rows].max()),
                    "start_open_reason": stay.bound_before[2],
                    "end_open_reason": stay.bound_after[2],
                }
            )
        return [records[i] for i in sorted(range(len(records)), key=firsts.__getitem__)]


def _evidence(scores: np.ndarray) -> float:
    """Probability that at least one of independent detections with these scores is real."""
    return float(1.0 - np.prod(1.0 - np.clip(scores, 0.0, 1.0)))


def _argmax_type(types: Mapping[str, float]) -> tuple[str, float]:
    """The most probable named type; ``unknown`` only when no detection names a type."""
    named = {t: p for t, p in types.items() if t != _UNKNOWN}
    pool = named or dict(types)
    if not pool:
        return _UNKNOWN, 0.0
    best = max(sorted(pool), key=lambda t: pool[t])
    return best, float(pool[best])


def stays_frame(records: list[dict[str, object]], crs: object) -> gpd.GeoDataFrame:
    """A stays GeoDataFrame (``STAY_COLUMNS`` + ``STAY_EXTRA_COLUMNS``, point geometry at
    ``x, y``, typed columns) from row dicts. Missing ids become ``<airport>-<nnnn>``, missing
    counts 0, missing strings "" and missing numbers NaN."""
    columns = [c for c in STAY_COLUMNS if c != "geometry"] + list(STAY_EXTRA_COLUMNS)
    frame = pd.DataFrame.from_records(records, columns=columns)
    if frame["stay_id"].isna().all():
        frame["stay_id"] = [f"{a}-{i + 1:04d}" for i, a in enumerate(frame["airport"])]
    for column, dtype in _STAY_DTYPES.items():
        if dtype == UTC_TIMESTAMP:
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif dtype == "int64":
            frame[column] = frame[column].fillna(0)
        elif dtype == "str":
            frame[column] = ["" if pd.isna(v) else v for v in frame[column]]
    frame = frame.astype(_STAY_DTYPES)
    geometry = gpd.GeoSeries(shapely.points(frame["x"], frame["y"]), crs=crs)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)


def link_stays(
    detections: gpd.GeoDataFrame,
    coverage: gpd.GeoDataFrame,
    config: LinkConfig = LinkConfig(),
    *,
    aligned: Collection[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> gpd.GeoDataFrame:
    """Link detections (``DETECTION_COLUMNS``) into stays (``STAY_COLUMNS`` plus
    ``STAY_EXTRA_COLUMNS``), per airport, with dwell bounds in hours.

    Both frames must be GeoDataFrames with their contract columns, in the same local metric
    CRS (metres), else ``ValueError``.
    ``coverage`` holds one row per scene × apron whose geometry is the visible part of the
    apron. Stays are sorted by airport, first sighting's time and position (the first
    sighting's, so that ids hold when later scenes are added); ``stay_id`` is
    ``<airport>-<nnnn>``. ``aligned``: the ids of the scenes co-registration aligned
    (:func:`aligned_scenes`), between which the close gate is tight (module docstring).
    ``progress(done, total)`` is called once per scene of each airport.
    """
    require_columns(detections, DETECTION_COLUMNS, "detections")
    require_placed(detections)
    require_columns(coverage, COVERAGE_COLUMNS, "coverage")
    crs = detections.crs if detections.crs is not None else coverage.crs
    if detections.crs is not None and coverage.crs is not None and detections.crs != coverage.crs:
        raise ValueError(
            f"detections are in {detections.crs.to_string()} but coverage in "
            f"{coverage.crs.to_string()}; call coverage.to_crs(detections.crs) first"
        )
    if crs is not None and crs.is_geographic:
        raise ValueError(
            f"detections are in {crs.to_string()} (degrees); link in the airport's metric CRS: "
            "call .to_crs(airport.crs) on both frames first"
        )
    airports = sorted(set(detections["airport"].astype(str)) | set(coverage["airport"].astype(str)))
    records: list[dict[str, object]] = []
    for airport in airports:
        dets = detections[detections["airport"].astype(str) == airport]
        cover = coverage[coverage["airport"].astype(str) == airport]
        if dets.empty:
            continue
        linker = _AirportLinker(dets, cover, config, aligned)
        airport_records = linker.rows(linker.stays(linker.tracks(progress)), airport)
        for i, record in enumerate(airport_records):
            record["stay_id"] = f"{airport}-{i + 1:04d}"
        records += airport_records
    stays = stays_frame(records, crs)
    stays["apron_id"] = aprons_under(stays, coverage)
    priors = dwell_priors(stays, coverage, config)
    stays["dwell_est_h"] = [
        dwell_estimate(*stay_windows(stay), prior=priors[str(stay["airport"])])
        for _, stay in stays.iterrows()
    ]
    return stays


def require_placed(detections: pd.DataFrame) -> None:
    """Raise ValueError naming the ``detections`` (by ``detection_id``) whose ``x``, ``y`` or
    ``score`` is no number (a blank cell of an edited table): linking can neither place nor
    weigh them."""
    for column in ("x", "y", "score"):
        values = pd.to_numeric(detections[column], errors="coerce").to_numpy(float)
        bad = detections.loc[~np.isfinite(values), "detection_id"].astype(str).tolist()
        if bad:
            raise ValueError(
                f"{counted(len(bad), 'detection')} with no number in {column}: {few(bad)}; "
                "each needs its centre x, y (metres) and its score to be linked"
            )


def aprons_under(stays: gpd.GeoDataFrame, coverage: gpd.GeoDataFrame) -> list[str]:
    """Per stay, the ``apron_id`` of every apron of its airport whose seen part (any scene's
    ``coverage`` row) holds the stay's point, sorted and ";"-joined: one stay on two overlapping
    aprons is one stay of both. "" when it stands on none. Each apron's scenes are tried in
    turn on the stays not yet placed on it, so memory stays with the stays, not with stays ×
    scenes."""
    if stays.empty:
        return []
    points = shapely.points(stays["x"].to_numpy(float), stays["y"].to_numpy(float))
    airport = stays["airport"].astype(str).to_numpy()
    ids: list[set[str]] = [set() for _ in range(len(stays))]
    seen = coverage[~coverage.geometry.is_empty]
    keys = [seen["airport"].astype(str), seen["apron_id"].astype(str)]
    for (airport_id, apron_id), group in seen.groupby(keys, sort=False):
        todo = np.flatnonzero(airport == airport_id)
        todo = todo[shapely.intersects(shapely.box(*group.total_bounds), points[todo])]
        for part in group.geometry.to_numpy():
            if not todo.size:
                break
            hit = shapely.intersects(part, points[todo])
            for i in todo[hit]:
                ids[i].add(apron_id)
            todo = todo[~hit]
    return [";".join(sorted(names)) for names in ids]


def dwell_priors(
    stays: pd.DataFrame, coverage: pd.DataFrame, config: LinkConfig = LinkConfig()
) -> dict[str, DwellPrior]:
    """Per airport of ``stays`` (as :func:`link_stays` returns them), the prior of its dwell
    estimates: fitted to its stays and scene times (``coverage``'s ``acquired``) with
    ``config.prior_strength``, or the log-uniform prior when that is None. The flight log's
    tightening (:func:`dwelltime.flights.tighten_with_flights`) takes the same priors."""
    priors: dict[str, DwellPrior] = {}
    for airport in stays["airport"].astype(str).unique():
        if config.prior_strength is None:
            priors[airport] = log_uniform_prior
            continue
        times = coverage.loc[coverage["airport"].astype(str) == airport, "acquired"].unique()
        mine = stays[stays["airport"].astype(str) == airport]
        priors[airport] = stays_prior(mine, times, strength=config.prior_strength)
    return priors

"""Co-registration of the scenes of one airport, so misregistration does not split stays.

Two images of one apron taken on different dates may disagree by 10 m or more on where things
are (orthorectification and pointing errors). Linking gates centres at 15 m, so that error
alone can split one stay in two or join two neighbours. Before linking, every scene's offset is
measured against a reference scene and subtracted from its detections and coverage.

Method: **masked normalised cross-correlation** (Padfield, "Masked object registration in the
Fourier domain", IEEE TIP 2012) of the apron imagery, computed with FFTs:

* each scene is read once onto one north-up grid of :attr:`CoregConfig.gsd_m` metres (default
  1 m; coarser when the aprons span more than :data:`MAX_GRID_PX` pixels) over the aprons'
  bounds in the airport's UTM CRS (:func:`dwelltime.regrid.read_to_grid`,
  decimated by GDAL), as the mean of its RGB bands;
* a high-pass (image minus a Gaussian blur of ``highpass_m``) keeps markings, slab joints and
  edges and drops haze, sun-angle shading and the provider's radiometry;
* only apron pixels take part: buildings and bridges beside the aprons lean with the view
  angle (off-nadir), and matching them biased offsets by up to 5 m on synthetic series;
* nor do the aircraft detected in each scene (their footprints grown by
  :data:`PARKED_MARGIN_M`, for shadow): on plain concrete they are most of the contrast, and
  when the aircraft of one scene have left and others stand a few metres along, matching them
  moved the scene by that much (16 m, with a peak of 0.9) onto the wrong aircraft;
* the correlation is normalised over the pixels valid in *both* scenes at each trial shift
  (nodata, cloud masks and their ``highpass_m`` border are masked), so clouds and footprint
  edges do not pull the peak;
* the peak within ``max_shift_m`` is refined to sub-pixel by a parabola in x and in y.

The reference is the clearest scene at the finest GSD (at most ``reference_max_gsd_m``).
Offsets are finally expressed relative to the median position of all trusted scenes, so the
common frame is the consensus of the scenes rather than one scene's own error. A scene whose
peak is below ``min_peak`` or whose overlap with the reference is under ``min_overlap`` is left
where it is (offset 0) and says so in ``coreg_status``; so is one whose peak lies on the edge
of the search window, a pixel past ``max_shift_m`` (``at_limit``): its offset is more than
that on an axis, and how much more is not known; and so is one with a second match,
``highpass_m`` or more from the best, reaching ``max_second_peak`` times its peak
(``ambiguous``): stand markings repeated every 20 m matched as well one stand along, and a
scene 12 m off was moved 8 m the other way.

Offsets (:data:`OFFSET_COLUMNS`): ``shift_x_m``/``shift_y_m`` are how far the scene's content
lies east/north of the common frame, metres; corrected coordinates are ``x − shift_x_m``,
``y − shift_y_m`` (:func:`apply_offsets`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from dwelltime.airports import Airport
from dwelltime.regrid import Grid, open_mask, open_picture, read_to_grid, rgb_bands, valid_mask
from dwelltime.scenes import Scene
from dwelltime.schema import ALIGNED_STATUSES
from dwelltime.tables import counted, few

log = logging.getLogger(__name__)

#: Columns of the offsets table (one row per scene), also added to the scenes layer.
OFFSET_COLUMNS: tuple[str, ...] = (
    "scene_id",
    "shift_x_m",  # content east of the common frame, metres (subtract to correct)
    "shift_y_m",  # content north of the common frame, metres
    "coreg_peak",  # normalised cross-correlation at the peak, [-1, 1]; NaN if not measured
    "coreg_status",  # reference | ok | low_peak | at_limit | ambiguous | no_overlap | failed
)


#: Largest side of the matching grid, pixels; larger apron areas are matched at a coarser GSD.
MAX_GRID_PX = 2048

#: Metres around a detection's footprint left out of the matching (its shadow, footprint error).
PARKED_MARGIN_M = 5.0


@dataclass(frozen=True)
class CoregConfig:
    """Settings of the co-registration; distances in metres."""

    gsd_m: float = 1.0  # pixel of the matching grid
    max_shift_m: float = 25.0  # largest offset searched, per axis
    highpass_m: float = 6.0  # sigma of the Gaussian removed by the high-pass
    min_peak: float = 0.15  # lowest trusted correlation peak
    min_overlap: float = 0.2  # least shared valid area, as a share of the reference's
    reference_max_gsd_m: float = 1.0  # prefer references at least this fine
    max_second_peak: float = 0.9  # a distinct second match this share of the best: ambiguous

    def __post_init__(self) -> None:
        for name in ("gsd_m", "max_shift_m", "highpass_m", "reference_max_gsd_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"CoregConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("min_peak", "min_overlap", "max_second_peak"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(
                    f"CoregConfig.{name} must be in [0, 1], got {getattr(self, name)!r}"
                )


@dataclass(frozen=True)
class Shift:
    """Where ``moving``'s content lies relative to ``reference``'s, in pixels of their grid:
    ``moving[r + row, c + col] ≈ reference[r, c]``; ``peak`` is the correlation there."""

    col: float
    row: float
    peak: float
    overlap: float  # shared valid pixels at the peak / valid pixels of the reference
    second: float = float("nan")  # best correlation at another local maximum (NaN: none)


class _Spectra:
    """FFTs of one image's masked high-pass, its square and its mask, at a padded size."""

    def __init__(self, image: np.ndarray, valid: np.ndarray, size: tuple[int, int]) -> None:
        self.size = size
        mask = valid.astype(np.float64)
        f = np.where(valid, image, 0.0)
        self.mask = np.fft.rfft2(mask, size)
        self.f = np.fft.rfft2(f, size)
        self.f2 = np.fft.rfft2(f * f, size)
        self.n_valid = float(mask.sum())


def highpass(
    image: np.ndarray, valid: np.ndarray, sigma_px: float, holes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(high-pass image, shrunken valid mask): ``image`` minus its normalised Gaussian blur over
    valid pixels; pixels within ``2 sigma_px`` of an invalid one are dropped from the mask.
    ``holes`` (bool, optional): valid pixels left out of the blur and the mask without that
    border, objects on the ground (parked aircraft) whose blur would ring around them."""
    holes = np.zeros_like(valid) if holes is None else holes
    inner = shrunk(valid, sigma_px) & ~holes
    valid = valid & ~holes
    w = valid.astype(np.float64)
    data = np.where(valid, image.astype(np.float64), 0.0)
    blur = ndimage.gaussian_filter(data, sigma_px)
    weight = ndimage.gaussian_filter(w, sigma_px)
    low = np.divide(blur, weight, out=np.zeros_like(blur), where=weight > 1e-6)
    return np.where(inner, data - low, 0.0), inner


def shrunk(valid: np.ndarray, sigma_px: float) -> np.ndarray:
    """``valid`` less the pixels within ``2 sigma_px`` of an invalid one (or of the edge),
    where the high-pass of :func:`highpass` is biased by what lies outside."""
    border = max(1, math.ceil(2 * sigma_px))
    return ndimage.binary_erosion(valid, iterations=border, border_value=0)


class MatchReference:
    """A reference image (rows, cols floats, with its valid mask) prepared once for masked
    normalised cross-correlation against many images of the same grid, over shifts up to
    ``max_shift_px`` pixels per axis."""

    def __init__(self, image: np.ndarray, valid: np.ndarray, max_shift_px: int) -> None:
        self.shape = image.shape
        self.max_shift_px = m = int(max_shift_px)
        self.size = (image.shape[0] + m + 1, image.shape[1] + m + 1)  # no wrap within ±m
        self._spectra = _Spectra(image, valid, self.size)

    def shift(
        self,
        moving: np.ndarray,
        moving_valid: np.ndarray,
        *,
        min_overlap: float = 0.2,
        separation_px: float = 3.0,
    ) -> Shift:
        """Offset of ``moving`` against the reference, sub-pixel. Shifts where fewer than
        ``min_overlap`` of the reference's valid pixels are shared are not considered; when
        none is left the result has ``peak`` NaN. ``second`` is the highest local maximum
        ``separation_px`` or more from the best (a repeated pattern's other match)."""
        if moving.shape != self.shape:
            raise ValueError(f"images differ in shape: {self.shape} vs {moving.shape}")
        m, ref = self.max_shift_px, self._spectra
        mov = _Spectra(moving, moving_valid, self.size)
        n = np.round(self._corr(ref.mask, mov.mask))
        sf, sg = self._corr(ref.f, mov.mask), self._corr(ref.mask, mov.f)
        sff, sgg = self._corr(ref.f2, mov.mask), self._corr(ref.mask, mov.f2)
        sfg = self._corr(ref.f, mov.f)
        enough = n >= max(min_overlap * ref.n_valid, 16)
        with np.errstate(invalid="ignore", divide="ignore"):
            nn = np.where(enough, n, 1.0)
            num = sfg - sf * sg / nn
            var_f = np.clip(sff - sf * sf / nn, 0, None)
            var_g = np.clip(sgg - sg * sg / nn, 0, None)
            den = np.sqrt(var_f * var_g)
            ncc = np.where(enough & (den > 1e-9), num / den, -np.inf)
        if not np.isfinite(ncc).any():
            return Shift(0.0, 0.0, float("nan"), 0.0)
        r, c = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
        rows, cols = np.nonzero((ncc == ndimage.maximum_filter(ncc, size=3)) & np.isfinite(ncc))
        apart = np.hypot(rows - r, cols - c) >= separation_px
        dr = _parabola(ncc[r - 1 : r + 2, c] if 0 < r < 2 * m else None)
        dc = _parabola(ncc[r, c - 1 : c + 2] if 0 < c < 2 * m else None)
        return Shift(
            col=float(c - m + dc),
            row=float(r - m + dr),
            peak=float(ncc[r, c]),
            overlap=float(n[r, c] / max(ref.n_valid, 1.0)),
            second=float(ncc[rows[apart], cols[apart]].max()) if apart.any() else float("nan"),
        )

    def _corr(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """sum_x a[x] b[x + u] for u in [-m, m]² from two spectra, indexed [row, col]."""
        full = np.fft.irfft2(np.conj(a) * b, self.size)
        m = self.max_shift_px
        rows = np.arange(-m, m + 1) % self.size[0]
        cols = np.arange(-m, m + 1) % self.size[1]
        return full[np.ix_(rows, cols)]


def masked_shift(
    reference: np.ndarray,
    reference_valid: np.ndarray,
    moving: np.ndarray,
    moving_valid: np.ndarray,
    max_shift_px: int,
    *,
    min_overlap: float = 0.2,
) -> Shift:
    """Offset of ``moving`` against ``reference`` (same grid, (rows, cols) floats) by masked
    normalised cross-correlation; see :class:`MatchReference` to match many against one."""
    match = MatchReference(reference, reference_valid, max_shift_px)
    return match.shift(moving, moving_valid, min_overlap=min_overlap)


def _parabola(values: np.ndarray | None) -> float:
    """Sub-pixel offset of the maximum of three samples (-1, 0, 1); 0 at an edge."""
    if values is None or not np.isfinite(values).all():
        return 0.0
    left, mid, right = values
    den = left - 2 * mid + right
    return float(np.clip(0.5 * (left - right) / den, -0.5, 0.5)) if den < 0 else 0.0


@dataclass
class _Raster:
    scene: Scene
    image: np.ndarray  # high-passed, (rows, cols) float64
    valid: np.ndarray  # (rows, cols) bool


def matching_grid(aprons: gpd.GeoDataFrame, airport: Airport, config: CoregConfig) -> Grid:
    """The matching grid: the aprons' bounds plus ``max_shift_m``, at ``config.gsd_m`` or
    coarser so that neither side exceeds :data:`MAX_GRID_PX` pixels (memory)."""
    minx, miny, maxx, maxy = aprons.to_crs(airport.crs).total_bounds
    pad = config.max_shift_m
    bounds = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    gsd = max(config.gsd_m, max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / MAX_GRID_PX)
    return Grid.over(bounds, gsd, airport.crs)


def apron_mask(aprons: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """(rows, cols) bool: grid pixels whose centre lies on an apron (``aprons``, or any
    polygons, in any CRS)."""
    from rasterio.features import geometry_mask

    geoms = [g for g in aprons.to_crs(grid.crs).geometry if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(grid.shape, bool)
    return ~geometry_mask(geoms, out_shape=grid.shape, transform=grid.transform)


def parked_footprints(detections: gpd.GeoDataFrame | None) -> dict[str, gpd.GeoDataFrame]:
    """Each scene's ``detections`` footprints grown by :data:`PARKED_MARGIN_M`, by scene id
    (none given: none), for :func:`parked_mask`."""
    if detections is None or detections.empty:
        return {}
    grown = detections.set_geometry(detections.geometry.buffer(PARKED_MARGIN_M))
    return {str(k): g for k, g in grown.groupby(grown["scene_id"].astype(str))}


def parked_mask(parked: Mapping[str, gpd.GeoDataFrame], scene_id: str, grid: Grid) -> np.ndarray:
    """(rows, cols) bool: grid pixels on ``scene_id``'s grown footprints (``parked``:
    :func:`parked_footprints`; a scene without any: no pixel)."""
    own = parked.get(scene_id)
    return np.zeros(grid.shape, bool) if own is None else apron_mask(own, grid)


def read_scene(
    scene: Scene,
    grid: Grid,
    config: CoregConfig,
    region: np.ndarray,
    parked: np.ndarray | None = None,
) -> _Raster:
    """One scene on the matching grid: mean of its RGB bands, high-passed, and its usable mask
    (data, not cloud where a provider mask exists, away from invalid pixels by the high-pass
    border, inside ``region``, off ``parked``: :func:`parked_mask`)."""
    with open_picture(scene.path) as ds, open_mask(scene.mask_path) as mask:
        valid = valid_mask(ds, grid, mask)
        bands = read_to_grid(
            ds, grid, indexes=rgb_bands(ds, scene.provider, scene.rgb_bands), resampling="bilinear"
        )
    gray = bands.astype(np.float64).mean(axis=0)
    valid &= np.isfinite(gray)  # a float image's NaN fill, smeared by bilinear resampling
    image, valid = highpass(gray, valid, config.highpass_m / grid.gsd_m, parked)
    return _Raster(scene, image, valid & region)


def usable_pixels(
    scene: Scene,
    grid: Grid,
    config: CoregConfig,
    region: np.ndarray,
    parked: np.ndarray | None = None,
) -> int:
    """The number of pixels in :func:`read_scene`'s usable mask, from the masks alone."""
    with open_picture(scene.path) as ds, open_mask(scene.mask_path) as mask:
        valid = valid_mask(ds, grid, mask)
    usable = shrunk(valid, config.highpass_m / grid.gsd_m) & region
    return int((usable if parked is None else usable & ~parked).sum())


def coregister_scenes(
    scenes: Sequence[Scene],
    airport: Airport,
    aprons: gpd.GeoDataFrame,
    config: CoregConfig = CoregConfig(),
    *,
    detections: gpd.GeoDataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Offsets of ``scenes`` over ``aprons`` (:data:`OFFSET_COLUMNS`, one row per scene).
    ``detections`` (``scene_id``, footprints as detected, not yet moved): each scene's are
    left out of its matching (:func:`parked_mask`), so aircraft that came and went between
    scenes do not pull them onto each other.

    A scene that cannot be read gets status ``failed`` (a warning names the file) and offset 0;
    the others are still measured. ``progress(done, total)``: scenes measured (or failed) of
    all ``scenes``, after each.

    Two passes keep the memory to a few scenes however many there are: the usable masks
    alone choose the reference, then every scene is read, matched and dropped in turn,
    ``workers`` threads at a time (GDAL reads and the FFTs run outside Python's lock).
    """
    if not scenes or aprons.empty:
        return _offsets_frame([])
    grid = matching_grid(aprons, airport, config)
    region = apron_mask(aprons, grid)
    parked = parked_footprints(detections)
    failed: list[str] = []

    def attempt(step: Callable[[Scene], object], scene: Scene) -> object | None:
        try:
            return step(scene)
        except Exception as exc:  # one unreadable scene must not stop the others
            log.warning("%s: co-registration skipped: %s: %s", scene.path, type(exc).__name__, exc)
            return None

    usable: dict[str, int] = {}  # scene_id → usable pixels on the matching grid
    for scene in scenes:
        count = attempt(
            lambda s: usable_pixels(s, grid, config, region, parked_mask(parked, s.scene_id, grid)),
            scene,
        )
        if count is None:
            failed.append(scene.scene_id)
        else:
            usable[scene.scene_id] = count  # type: ignore[assignment]
    todo = [s for s in scenes if s.scene_id in usable]

    def read(scene: Scene) -> _Raster:
        return read_scene(scene, grid, config, region, parked_mask(parked, scene.scene_id, grid))

    ref = attempt(read, _choose_reference(todo, usable, config)) if todo else None
    if ref is None:
        return _offsets_frame([_row(s.scene_id, 0.0, 0.0, float("nan"), "failed") for s in scenes])
    # a pixel past max_shift_m, so that a peak on the window's edge (at_limit) lies beyond it
    match = MatchReference(ref.image, ref.valid, math.ceil(config.max_shift_m / grid.gsd_m) + 1)

    def measure(scene: Scene) -> dict[str, object]:
        if scene is ref.scene:
            return _row(scene.scene_id, 0.0, 0.0, 1.0, "reference")
        return _measure(match, read(scene), grid.gsd_m, config)

    measured = []
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        rows = pool.map(lambda s: attempt(measure, s), todo)
        first = len(scenes) - len(todo) + 1  # scenes that failed the first pass count as done
        for done, (scene, row) in enumerate(zip(todo, rows, strict=True), start=first):
            if row is None:
                failed.append(scene.scene_id)
            else:
                measured.append(row)
            if progress is not None:
                progress(done, len(scenes))
    rows = [_row(s, 0.0, 0.0, float("nan"), "failed") for s in failed]
    trusted = [row for row in measured if row["coreg_status"] in ALIGNED_STATUSES]
    cx = float(np.median([row["shift_x_m"] for row in trusted]))
    cy = float(np.median([row["shift_y_m"] for row in trusted]))
    for row in trusted:
        row["shift_x_m"] -= cx
        row["shift_y_m"] -= cy
    _warn_unaligned(measured)
    return _offsets_frame(measured + rows)


def _warn_unaligned(rows: list[dict[str, object]]) -> None:
    """One warning naming the measured scenes left where their images place them, by status
    (a ``failed`` scene's own warning has named it already)."""
    left: dict[str, list[str]] = {}
    for row in rows:
        if row["coreg_status"] not in ALIGNED_STATUSES:
            left.setdefault(str(row["coreg_status"]), []).append(str(row["scene_id"]))
    if left:
        log.warning(
            "co-registration left %s unshifted, whose aircraft may lie metres off the "
            "others' (coreg_status in the scenes layer says why): %s",
            counted(sum(map(len, left.values())), "scene"),
            "; ".join(f"{status} {few(ids)}" for status, ids in sorted(left.items())),
        )


def _choose_reference(scenes: list[Scene], usable: dict[str, int], config: CoregConfig) -> Scene:
    """The scene with the most usable pixels among the finest ones (ties: earliest)."""
    fine = [s for s in scenes if s.gsd_m <= config.reference_max_gsd_m] or scenes
    return max(fine, key=lambda s: (usable[s.scene_id], -s.acquired.value))


def _measure(
    match: MatchReference, raster: _Raster, gsd_m: float, config: CoregConfig
) -> dict[str, object]:
    scene_id = raster.scene.scene_id
    if not raster.valid.any():
        return _row(scene_id, 0.0, 0.0, float("nan"), "no_overlap")
    shift = match.shift(
        raster.image,
        raster.valid,
        min_overlap=config.min_overlap,
        separation_px=config.highpass_m / gsd_m,
    )
    if not np.isfinite(shift.peak):
        return _row(scene_id, 0.0, 0.0, float("nan"), "no_overlap")
    if shift.peak < config.min_peak:
        return _row(scene_id, 0.0, 0.0, shift.peak, "low_peak")
    if max(abs(shift.col), abs(shift.row)) >= match.max_shift_px:  # the window's edge
        return _row(scene_id, 0.0, 0.0, shift.peak, "at_limit")
    if shift.second >= config.max_second_peak * shift.peak:  # NaN: no other match
        return _row(scene_id, 0.0, 0.0, shift.peak, "ambiguous")
    # grid rows run south: a content shift of +row pixels is a shift to the south
    return _row(scene_id, shift.col * gsd_m, -shift.row * gsd_m, shift.peak, "ok")


def _row(scene_id: str, dx: float, dy: float, peak: float, status: str) -> dict[str, object]:
    return {
        "scene_id": scene_id,
        "shift_x_m": dx,
        "shift_y_m": dy,
        "coreg_peak": peak,
        "coreg_status": status,
    }


def _offsets_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(OFFSET_COLUMNS))
    return frame.astype(
        {
            "scene_id": "str",
            "shift_x_m": "float64",
            "shift_y_m": "float64",
            "coreg_peak": "float64",
            "coreg_status": "str",
        }
    )


def apply_offsets(frame: gpd.GeoDataFrame, offsets: pd.DataFrame) -> gpd.GeoDataFrame:
    """``frame`` (with ``scene_id``, metric CRS) moved into the common frame: ``x``, ``y``
    (when present) and ``geometry`` minus each scene's ``shift_x_m``, ``shift_y_m``. Scenes
    without an offset row are left as they are. Returns a new frame."""
    out = frame.copy()
    if out.empty or offsets.empty:
        return out
    by_scene = offsets.set_index("scene_id")[["shift_x_m", "shift_y_m"]]
    dx = out["scene_id"].astype(str).map(by_scene["shift_x_m"]).fillna(0.0).to_numpy(float)
    dy = out["scene_id"].astype(str).map(by_scene["shift_y_m"]).fillna(0.0).to_numpy(float)
    for column, delta in (("x", dx), ("y", dy)):
        if column in out:
            out[column] = out[column].to_numpy(float) - delta
    geoms = out.geometry.to_numpy()
    moved = [
        g if g is None or (a == 0 and b == 0) else _translate(g, -a, -b)
        for g, a, b in zip(geoms, dx, dy, strict=True)
    ]
    return out.set_geometry(gpd.GeoSeries(moved, index=out.index, crs=out.crs))


def _translate(geometry: object, dx: float, dy: float) -> object:
    return shapely.transform(geometry, lambda xy: xy + np.array([dx, dy]))

"""Stay and dwell-time quality of the whole pipeline on simulated airport-weeks.

Usage: python scripts/evaluate_dwell.py [--n 20] [--out runs/dwell_eval] [--weights W]
       [--device auto] [--precision auto] [--days 7] [--max-shift 10] [--seed 0] [--keep] [--reuse]
       [--split 10] [--link KEY=VALUE ...]
       python scripts/evaluate_dwell.py --synth-only --n 20   # render now, --reuse later
       python scripts/evaluate_dwell.py --synth-only --reuse --n 20   # the weeks not yet rendered
       python scripts/evaluate_dwell.py --relink --n 20       # re-link saved runs (seconds)
       python scripts/evaluate_dwell.py --relink --oracle --n 20   # a perfect detector

Simulates N airport-weeks with the synthetic engine (airports and seeds vary; irregular
revisits, clouds on about 30 % of the scenes, every scene misregistered by up to
``--max-shift`` metres in a random direction), runs the trained detector and the pipeline end
to end on each (``dwelltime.pipeline.run``: scan, tile, detect, co-register, link), matches
predicted stays to the true ones and prints per type: stay precision/recall/F1, coverage of the
true dwell by [min, max], median |estimate − truth| in hours, against the target of half the
median revisit gap. The same detections are also linked without co-registration (offsets
undone), to show what co-registration brings, and the stays are tightened with a complete
flight log of the week (``flights.csv``: every visit's true arrival and departure, the
evidence ``dwelltime run --flights`` takes), to show what such evidence brings. For reference,
the stays' point estimates are also made with the simulator's own distribution of stays as the
prior instead of the one fitted to each week's stays (``dwelltime.linking.dwell_priors``):
knowledge no analyst has, the Bayes estimator of this simulation, which shows how much of the
error is left to any estimator from these images.
``--n 2`` is a quick check.

Each week's pipeline result before linking (``scenes`` with the co-registration offsets,
``coverage`` and ``detections`` in the co-registered frame) is saved as Parquet under
``<week>/run/``; ``--relink`` skips rendering and detection and links those saved results
again (same scoring), so a linking experiment costs seconds. ``--link KEY=VALUE`` overrides a
:class:`~dwelltime.linking.LinkConfig` field (repeatable; ``None`` for an optional value);
``--oracle`` links the truth's unhidden aircraft instead (a perfect detector, on the
same scenes, clouds and coverage): the dwell quality that imagery alone allows, to set the
detector's share of the error apart. ``--split K`` also prints the overall scores of weeks
``< K`` and ``>= K`` separately.

The pipeline sees imagery and aprons only; the truth is read for scoring and, separately, to
write the simulated flight log.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dwelltime import pipeline
from dwelltime.airports import lookup_airport
from dwelltime.coregister import apply_offsets
from dwelltime.detector import load_detector
from dwelltime.dwell import DwellPrior, dwell_estimate, stay_windows
from dwelltime.errors import DwelltimeError
from dwelltime.evaluation.dwell import (
    MEDIAN_INTERVAL_LEVEL,
    format_scores,
    interval_text,
    load_true_stays,
    median_revisit_h,
    score_stays,
    true_detections,
)
from dwelltime.flights import read_flights, tighten_with_flights
from dwelltime.io import read_layer, write_csv, write_layers
from dwelltime.linking import LinkConfig, aligned_scenes, dwell_priors, link_stays
from dwelltime.precision import PRECISIONS
from dwelltime.synth import simulate_series
from dwelltime.synth.series import random_spec, revisit_times
from dwelltime.synth.traffic import VISIT_MEDIAN_H, visit_dwell_density

#: Layers saved per week under ``<week>/run/`` (Parquet), read back by ``--relink``.
RUN_LAYERS: tuple[str, ...] = ("scenes", "coverage", "detections")

#: Airports the weeks rotate through (ICAO).
AIRPORTS = ("ZKPY", "UHWW", "ZYTX", "RKSI", "UUEE", "ZBAA", "UNNT", "UHHH")


def week_specs(airport: str, start: pd.Timestamp, days: int, max_shift_m: float, seed: int):
    """Scene specs of one week: the engine's random revisits and providers, with a
    misregistration of uniform length in [0, max_shift_m] and uniform direction."""
    site = lookup_airport(airport)
    rng = np.random.default_rng(10_000 + seed)
    specs = []
    for i, t in enumerate(revisit_times(start, days, site.lon, rng)):
        spec = random_spec(f"{site.icao.lower()}_{i + 1:02d}", t, site.crs, rng)
        length, angle = rng.uniform(0, max_shift_m), rng.uniform(0, 2 * np.pi)
        shift = (round(length * np.sin(angle), 2), round(length * np.cos(angle), 2))
        specs.append(dataclasses.replace(spec, shift_m=shift))
    return specs


@dataclasses.dataclass(frozen=True)
class Week:
    """One simulated airport-week: where, from when, with which seed, written where."""

    k: int
    airport: str
    seed: int
    start: pd.Timestamp
    folder: Path


def week(k: int, args: argparse.Namespace) -> Week:
    airport, seed = AIRPORTS[k % len(AIRPORTS)], args.seed + k
    start = pd.Timestamp("2023-07-03", tz="UTC") + pd.Timedelta(days=7 * (k // len(AIRPORTS)))
    name = f"{k:02d}_{airport}_s{seed}_d{args.days}_m{args.max_shift:g}"
    return Week(k, airport, seed, start, args.out / name)


def render_week(w: Week, args: argparse.Namespace) -> None:
    """Simulate and render one week into ``w.folder`` (replacing what was there)."""
    shutil.rmtree(w.folder, ignore_errors=True)
    specs = week_specs(w.airport, w.start, args.days, args.max_shift, w.seed)
    simulate_series(
        w.folder, airport=w.airport, start=w.start, days=args.days, seed=w.seed, specs=specs
    )


def rendered(folder: Path) -> bool:
    """Whether a week's rendering into ``folder`` finished and its imagery is kept: its
    ``truth/scenes.csv`` is written last, so a render cut short (Ctrl-C) is rendered again."""
    return (folder / "imagery").is_dir() and (folder / "truth" / "scenes.csv").is_file()


def run_week(k: int, args: argparse.Namespace, detector, config: LinkConfig) -> dict[str, object]:
    """Simulate, run and score week ``k`` (or, with ``--relink``, link its saved run again);
    returns its stays (with and without co-registration), truth and timings, airports keyed
    per week."""
    w = week(k, args)
    airport, folder = w.airport, w.folder
    t0 = time.perf_counter()
    if args.relink:
        layers = load_run(folder)
        t1 = time.perf_counter()
        aligned = aligned_scenes(layers["scenes"])
        stays = link_stays(layers["detections"], layers["coverage"], config, aligned=aligned)
    else:
        if not (args.reuse and rendered(folder)):
            render_week(w, args)
        t1 = time.perf_counter()
        result = pipeline.run(
            folder / "imagery",
            airport,
            aprons=folder / "aprons.geojson",
            detector=detector,
            link_config=config,
        )
        layers = {name: getattr(result, name) for name in RUN_LAYERS}
        write_layers(folder / "run", layers, formats=("parquet",), overwrite=True)
        stays = result.stays
    if args.oracle:
        layers = oracle_layers(layers, folder, airport)
        stays = link_stays(
            layers["detections"],
            layers["coverage"],
            config,
            aligned=aligned_scenes(layers["scenes"]),
        )
    t2 = time.perf_counter()
    scenes = layers["scenes"]
    offsets = scenes[["scene_id", "shift_x_m", "shift_y_m"]].fillna(0.0)
    undone = offsets.assign(shift_x_m=-offsets["shift_x_m"], shift_y_m=-offsets["shift_y_m"])
    raw = link_stays(
        apply_offsets(layers["detections"], undone),
        apply_offsets(layers["coverage"], undone),
        config,
    )
    truth = load_true_stays(folder, airport)
    flights = tighten_with_flights(
        stays,
        read_flights(write_flight_log(folder, airport)),
        dwell_priors(stays, layers["coverage"], config),
    )
    key = f"{airport}#{k}"
    if not (args.keep or args.reuse or args.relink):
        shutil.rmtree(folder / "imagery")
    print(
        f"week {k + 1}/{args.n} {airport} seed {w.seed}: {len(scenes)} scenes, "
        f"{len(layers['detections'])} detections, {len(stays)} stays "
        f"({int(truth['observed'].sum())} observed true); "
        f"{'load' if args.relink else 'synth'} {t1 - t0:.0f} s, "
        f"{'link' if args.relink else 'pipeline'} {t2 - t1:.0f} s",
        flush=True,
    )
    return {  # plain frames: weeks are in different UTM zones, scoring uses x, y per week
        "k": k,
        "stays": _plain(stays).assign(airport=key),
        "raw": _plain(raw).assign(airport=key),
        "flights": _plain(flights).assign(airport=key),
        "reference": _plain(reestimated(stays, visit_dwell_density)).assign(airport=key),
        "truth": truth.assign(airport=key),
        "revisit_h": median_revisit_h(scenes["acquired"]),
        "coreg": _plain(layers.get("measured", scenes)),
        "folder": folder,
        "seconds": (0.0 if args.relink else t1 - t0, t2 - t1),
    }


def reestimated(stays: pd.DataFrame, prior: DwellPrior) -> pd.DataFrame:
    """``stays`` with each point estimate ``dwell_est_h`` made again under ``prior``."""
    est = [dwell_estimate(*stay_windows(stay), prior=prior) for _, stay in stays.iterrows()]
    return stays.assign(dwell_est_h=np.asarray(est, dtype=float))


def oracle_layers(layers: dict[str, object], folder: Path, airport: str) -> dict[str, object]:
    """A week's run as a perfect detector would have it: the truth's unhidden aircraft as the
    detections (:func:`~dwelltime.evaluation.dwell.true_detections`), the coverage moved into
    the truth's frame (the measured offset of each scene undone, its true misregistration
    removed) and the scenes' offsets zeroed; ``measured``: the scenes as they were."""
    scenes = layers["scenes"]
    measured = scenes[["scene_id", "shift_x_m", "shift_y_m"]].fillna(0.0)
    undone = measured.assign(shift_x_m=-measured["shift_x_m"], shift_y_m=-measured["shift_y_m"])
    true_shift = pd.read_csv(folder / "truth" / "scenes.csv", dtype={"scene_id": str})
    true_shift = true_shift.rename(
        columns={"shift_east_m": "shift_x_m", "shift_north_m": "shift_y_m"}
    )
    coverage = apply_offsets(apply_offsets(layers["coverage"], undone), true_shift)
    return {
        "scenes": scenes.assign(shift_x_m=0.0, shift_y_m=0.0),
        "coverage": coverage,
        "detections": true_detections(folder, airport).to_crs(coverage.crs),
        "measured": scenes,
    }


def load_run(folder: Path) -> dict[str, object]:
    """The layers a detection pass saved under ``<folder>/run/`` (:data:`RUN_LAYERS`)."""
    paths = {name: folder / "run" / f"{name}.parquet" for name in RUN_LAYERS}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SystemExit(
            f"{missing[0]}: not found; run once without --relink (with --reuse) to detect "
            "and save each week"
        )
    return {name: read_layer(path) for name, path in paths.items()}


def link_config(overrides: list[str]) -> LinkConfig:
    """A :class:`LinkConfig` from ``KEY=VALUE`` strings (values parsed as Python literals,
    ``None`` allowed); defaults elsewhere."""
    import ast

    values: dict[str, object] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"--link {item!r}: give KEY=VALUE, e.g. --link max_gap_h=None")
        try:
            values[key.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            values[key.strip()] = text.strip()
    try:
        return LinkConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"--link: {exc}") from exc


def write_flight_log(folder: Path, airport: str) -> Path:
    """``<folder>/flights.csv``: the arrival and departure of every visit of the week, as a
    complete flight-tracking feed would list them (residents never move)."""
    stays = pd.read_csv(folder / "truth" / "stays.csv")
    visits = stays[~stays["resident"].astype(bool)].drop_duplicates("visit_id")
    rows = [
        (t, airport, "arr", ty) for t, ty in zip(visits["arrival"], visits["type"], strict=True)
    ]
    rows += [
        (t, airport, "dep", ty) for t, ty in zip(visits["departure"], visits["type"], strict=True)
    ]
    path = folder / "flights.csv"
    return write_csv(pd.DataFrame(rows, columns=["time", "airport", "event", "type"]), path)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A GeoDataFrame's attribute columns as a plain DataFrame."""
    return pd.DataFrame(frame.drop(columns="geometry"))


def coregistration_error(weeks: list[dict[str, object]]) -> pd.Series:
    """Per scene: distance (m) between the measured and the true relative misregistration
    (``truth/scenes.csv``), after removing each week's common offset (the frame is arbitrary)."""
    errors = []
    for week in weeks:
        scenes = week["coreg"]
        scenes = scenes[scenes["coreg_status"].isin(["ok", "reference"])]
        m = scenes.merge(pd.read_csv(week["folder"] / "truth" / "scenes.csv"), on="scene_id")
        ex, ey = m["shift_x_m"] - m["shift_east_m"], m["shift_y_m"] - m["shift_north_m"]
        errors.append(np.hypot(ex - ex.median(), ey - ey.median()))
    return pd.concat(errors, ignore_index=True) if errors else pd.Series([], dtype=float)


#: Stay sets scored per run: as linked, linked without co-registration, tightened by flights,
#: and as linked but estimated with the simulator's own stay distribution as the prior.
STAY_SETS: tuple[str, ...] = ("stays", "raw", "flights", "reference")


def score_weeks(weeks: list[dict[str, object]], name: str, gate_m: float) -> pd.DataFrame:
    """Scores (:func:`score_stays`) of the stay set ``name`` of ``weeks`` against their truth."""
    return score_stays(
        pd.concat([w[name] for w in weeks], ignore_index=True),
        pd.concat([w["truth"] for w in weeks], ignore_index=True),
        max_distance_m=gate_m,
    )


def error_text(row: pd.Series) -> str:
    """The median dwell error of a score row, its confidence interval and how many stays."""
    return (
        f"{row['median_abs_err_h']:.1f} h ({MEDIAN_INTERVAL_LEVEL:.0%} interval "
        f"{interval_text(row)} h) over {row['n_bounded']} bounded"
    )


def overall_line(row: pd.Series) -> str:
    """One line of overall scores: true/predicted/matched stays, P, R, F1, type accuracy,
    coverage, error."""
    return (
        f"{row['n_true']} true, {row['n_pred']} predicted, {row['tp']} matched; "
        f"precision {row['precision']:.3f}, recall {row['recall']:.3f}, F1 {row['f1']:.3f}, "
        f"type {row['type_acc']:.3f}, coverage {row['coverage']:.3f}, "
        f"median |err| {error_text(row)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20, help="airport-weeks to simulate")
    parser.add_argument("--out", type=Path, default=Path("runs/dwell_eval"), help="work folder")
    parser.add_argument("--days", type=int, default=7, help="days per airport-week")
    parser.add_argument("--max-shift", type=float, default=10.0, help="misregistration, m")
    parser.add_argument("--seed", type=int, default=0, help="seed of week 0 (week k: seed + k)")
    parser.add_argument("--gate", type=float, default=20.0, help="stay match gate, m")
    parser.add_argument("--weights", type=Path, default=None, help="None: the shipped ones")
    parser.add_argument("--device", default="auto", help="torch device")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="as run's")
    parser.add_argument("--keep", action="store_true", help="keep the rendered imagery")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse weeks kept by --keep or --synth-only (and keep them); one whose rendering "
        "was cut short is rendered again (with --synth-only: only the weeks not yet rendered)",
    )
    parser.add_argument("--synth-only", action="store_true", help="render the weeks and stop")
    parser.add_argument(
        "--relink",
        action="store_true",
        help="skip detection: link each week's saved <week>/run/ layers again",
    )
    parser.add_argument(
        "--link",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a LinkConfig field (repeatable)",
    )
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="link the truth's unhidden aircraft instead of the detections (a perfect "
        "detector): the dwell quality imagery alone allows",
    )
    parser.add_argument(
        "--split", type=int, default=None, help="also score weeks < K and >= K separately"
    )
    args = parser.parse_args()
    for option, value in (("--n", args.n), ("--days", args.days)):
        if value < 1:
            parser.error(f"{option} {value}: give at least 1")
    config = link_config(args.link)

    if args.synth_only:
        for w in (week(k, args) for k in range(args.n)):
            if args.reuse and rendered(w.folder):  # e.g. again after a Ctrl-C: the rest only
                print(f"kept {w.folder}", flush=True)
                continue
            render_week(w, args)
            print(f"rendered {w.folder}", flush=True)
        return
    detector = (
        None
        if args.relink
        else load_detector(args.weights, device=args.device, precision=args.precision)
    )
    start = time.perf_counter()
    weeks = [run_week(k, args, detector, config) for k in range(args.n)]
    elapsed = time.perf_counter() - start
    scores, raw, flights, reference = (score_weeks(weeks, n, args.gate) for n in STAY_SETS)
    revisit = float(np.nanmedian([w["revisit_h"] for w in weeks]))
    err = coregistration_error(weeks)
    overall, before, evidence = scores.iloc[-1], raw.iloc[-1], flights.iloc[-1]
    best = reference.iloc[-1]
    synth_s = sum(w["seconds"][0] for w in weeks)
    print()
    print(format_scores(scores))
    print()
    if config != LinkConfig():
        print(f"link config: {config}")
    if args.split is not None:
        for label, part in (
            (f"weeks 0-{args.split - 1}", [w for w in weeks if w["k"] < args.split]),
            (f"weeks {args.split}-{args.n - 1}", [w for w in weeks if w["k"] >= args.split]),
        ):
            if part:
                print(f"{label}: {overall_line(score_weeks(part, 'stays', args.gate).iloc[-1])}")
        print(f"all {args.n} weeks: {overall_line(overall)}")
        print()
    done = "re-linked from the saved runs" if args.relink else f"(synth {synth_s / 60:.1f} min)"
    print(
        f"{args.n} airport-weeks in {elapsed / 60:.1f} min {done}; "
        f"misregistration up to {args.max_shift:g} m"
    )
    print(
        f"stay F1 {overall['f1']:.3f} with co-registration, {before['f1']:.3f} without; "
        f"coverage {overall['coverage']:.3f}"
    )
    print(
        f"median |dwell error| {error_text(overall)} stays; target: half the median revisit gap "
        f"= {revisit / 2:.1f} h"
    )
    print(
        f"with a complete flight log: coverage {evidence['coverage']:.3f}, median |dwell error| "
        f"{error_text(evidence)} stays"
    )
    print(
        f"with the simulator's own stay distribution as the prior (log-normal, median "
        f"{VISIT_MEDIAN_H:g} h; knowledge no analyst has): median |dwell error| "
        f"{error_text(best)} stays"
    )
    print(
        f"co-registration error per scene: median {err.median():.2f} m, "
        f"95th percentile {err.quantile(0.95):.2f} m, max {err.max():.2f} m over {len(err)} scenes"
    )


if __name__ == "__main__":
    try:
        main()
    except DwelltimeError as exc:  # a bad --weights, --device, input file…: one line
        raise SystemExit(str(exc)) from None

"""Detector speed benchmark (not a test): tiles per second, ours against a torchvision peer.

Times, on the same random uint8 tiles and in the same run, dwelltime's detector
(``Detector.predict``: upload, normalise, network, decoding to oriented boxes) and torchvision's
``fasterrcnn_mobilenet_v3_large_fpn`` (no weights, ``min_size=max_size=tile``, 2 classes; the
uint8→float conversion and its post-processing included). CPU runs use ``--threads`` torch
threads (default 2), both models in each of ``--precisions`` (fp32, and bf16 autocast, which
dwelltime uses by default on CPUs with native bf16; ``int8``, dwelltime's default on other x86
CPUs, is ours only, against the peer in fp32); CUDA, when available, batch 32 under bf16
autocast with channels-last. The speed-up is against the peer in the same precision, and
against the peer in fp32, as torchvision runs it.
Our detector uses the shipped weights when ``models/`` holds them, else random weights (the
table says which): speed does not depend on the weights' values. Besides wall time per tile
the table gives process CPU time per tile (all threads), steadier on a shared, busy host.

With ``--pipeline`` it times instead the batch job end to end (``run_batch``, the same code as
``dwelltime batch``) on GeoTIFFs on disk: km² of apron and tiles per second, with the time
split into read / resample / infer / post-process / write by wrapping, in this script only,
the functions the job calls (``read_to_grid`` less its ``reproject`` is the raw window read;
``reproject`` and the stretch are the resampling; ``Detector.launch`` and ``collect`` the
inference, the wait for the batch before included;
``detections_frame`` the post-processing; ``SceneStore.commit`` the write; the refiner's
share of inference apart). Model loading, the folder scan and the airport's tables are timed
apart and left out of the throughput. It runs once in this process (``workers=0``, so every
stage is timed) and once with ``--workers`` DataLoader processes reading ahead of the model
(overlapped: this process's stages, where "feed" is its wait for the readers; with
``--finishers`` processes, post-processing and writing run in those and show here only as
waiting for them, in "other"), beside our
model alone on random tiles of the same size and batch. Scenes are rendered by
the synth engine into a temporary folder (``--scenes``, GSD 0.5 m) unless ``--imagery`` is
given; freshly written files are in the page cache, so "read" is GDAL decoding, not the disk.
On CUDA the table also gives how busy the GPU was over the scene loop (NVML's utilisation,
sampled; "–" without ``pynvml``): near 100 % the GPU bounds the job, well below it the job's
main thread does.

    python scripts/benchmark.py --out bench.json
    python scripts/benchmark.py --tiles 512 --devices cpu --iters 2
    python scripts/benchmark.py --pipeline --devices cpu --scenes 3 --workers 2 --out pipe.json
    python scripts/benchmark.py --pipeline --imagery sunan/imagery --airport ZKPY \
        --aprons sunan/aprons.geojson
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from dwelltime.errors import DwelltimeError

#: The peer's name in the tables.
PEER = "torchvision FRCNN-MobileNet-v3-FPN"


@dataclass(frozen=True)
class Timing:
    """One model × device × tile size: throughput over the timed iterations."""

    model: str
    weights: str
    device: str
    tile: int
    batch: int
    tiles_per_s: float
    ms_per_tile: float
    cpu_ms_per_tile: float  # process CPU time (all threads): steadier than wall on a busy host
    precision: str = "bf16"  # fp32 | bf16 (autocast) | int8 (ours: dense network; CPU)
    speedup_vs_peer: float = float("nan")  # against the peer in the same precision (int8: fp32)
    speedup_vs_peer_fp32: float = float("nan")  # against the peer in fp32


def build_parser() -> argparse.ArgumentParser:
    """Arguments; one group per benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="Write the table here as JSON.")
    models = parser.add_argument_group("model speed (ours vs torchvision FRCNN-MobileNet-v3)")
    models.add_argument("--tiles", type=int, nargs="+", default=[512, 1024], help="Tile sizes.")
    models.add_argument(
        "--devices",
        nargs="+",
        default=["cpu", "cuda"],
        help="Devices to time; cuda is skipped when not available.",
    )
    models.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    models.add_argument(
        "--precisions",
        nargs="+",
        choices=("fp32", "bf16", "int8"),
        default=["fp32", "bf16"],
        help="CPU arithmetic of both models (CUDA: bf16); int8 is ours only (its dense "
        "network, dwelltime.detector.int8), timed against the peer in fp32.",
    )
    models.add_argument("--cpu-batch", type=int, default=4, help="Tiles per batch on CPU.")
    models.add_argument("--cuda-batch", type=int, default=32, help="Tiles per batch on CUDA.")
    models.add_argument("--warmup", type=int, default=1, help="Untimed batches first.")
    models.add_argument("--iters", type=int, default=3, help="Timed batches (CUDA: ×3).")
    models.add_argument("--weights", type=Path, default=None, help="Our detector's weights.")
    models.add_argument(
        "--networks",
        nargs="+",
        choices=("eager", "compiled"),
        default=["eager"],
        help="Our network as is and/or through torch.compile.",
    )
    pipe = parser.add_argument_group("pipeline (--pipeline: the batch job from GeoTIFF on disk)")
    pipe.add_argument(
        "--pipeline", action="store_true", help="Time the batch job instead of the models."
    )
    pipe.add_argument("--scenes", type=int, default=2, help="Synthetic scenes to render.")
    pipe.add_argument(
        "--copies", type=int, default=0, help="Hard links of each rendered scene, read as more."
    )
    pipe.add_argument(
        "--extent-m", type=float, default=3000.0, help="Side of the rendered scenes, metres."
    )
    pipe.add_argument("--imagery", type=Path, default=None, help="Use this imagery folder.")
    pipe.add_argument("--airport", default="ZKPY", help="ICAO code of --imagery's airport.")
    pipe.add_argument("--aprons", type=Path, default=None, help="Apron polygons of --imagery.")
    pipe.add_argument("--workers", type=int, default=2, help="DataLoader readers, overlapped run.")
    pipe.add_argument(
        "--finishers",
        type=int,
        default=None,
        help="Post-processing processes of the overlapped run (default: the job's, 2 on CUDA, "
        "else a thread); the sequential run keeps a thread so every stage is timed.",
    )
    pipe.add_argument("--repeat", type=int, default=1, help="Runs of each mode; means reported.")
    pipe.add_argument(
        "--modes",
        nargs="+",
        choices=("sequential", "overlapped"),
        default=["sequential", "overlapped"],
        help="Job runs: in this process (every stage timed) and/or with --workers readers.",
    )
    pipe.add_argument(
        "--no-tables",
        action="store_true",
        help="Skip co-registration, linking and the report after the scenes (setup, not timed "
        "in tiles/s) to spend a short GPU lease on the scene loop.",
    )
    return parser


def our_detector(
    device: str, weights: Path | None, *, compiled: bool = False, precision: str = "auto"
) -> tuple[Callable[[torch.Tensor], object], str]:
    """``predict`` of dwelltime's detector and a word on its weights (path or "random");
    ``compiled``: its network through ``torch.compile`` (at the first, untimed batch);
    ``precision``: as :class:`~dwelltime.detector.Detector` takes it."""
    from dwelltime.detector import Detector, build_detector, default_classes, load_detector
    from dwelltime.errors import WeightsError

    try:
        detector = load_detector(weights, device=device, compiled=compiled, precision=precision)
        label = "shipped" if weights is None else str(weights)
    except WeightsError:
        if weights is not None:
            raise
        classes = default_classes()
        model = build_detector(num_classes=len(classes))
        detector = Detector(
            model, classes=classes, device=device, compiled=compiled, precision=precision
        )
        label = "random"
    return detector.predict, label


def peer_detector(device: str, tile: int, bf16: bool) -> Callable[[torch.Tensor], object]:
    """torchvision FRCNN-MobileNet-v3-FPN (random weights) on uint8 batches, as deployed;
    ``bf16``: under bf16 autocast."""
    import torchvision

    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, min_size=tile, max_size=tile, num_classes=2
    )
    dev = torch.device(device)
    model = model.eval().to(dev, memory_format=torch.channels_last)

    def predict(images: torch.Tensor) -> object:
        x = images.to(dev, non_blocking=True).float().div_(255.0)
        x = x.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(dev.type, torch.bfloat16) if bf16 else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            out = model(list(x))
        return [{k: v.float().cpu() for k, v in o.items()} for o in out]

    return predict


def bench_tiles(rng: np.random.Generator, batch: int, tile: int, cuda: bool) -> torch.Tensor:
    """Random uint8 tiles, pinned for CUDA as the batch job's reader hands them over."""
    tiles = torch.from_numpy(rng.integers(0, 256, (batch, 3, tile, tile), dtype=np.uint8))
    return tiles.pin_memory() if cuda else tiles


def time_batches(
    predict: Callable[[torch.Tensor], object], tiles: torch.Tensor, warmup: int, iters: int
) -> tuple[float, float]:
    """Wall and process-CPU seconds per batch, medians over ``iters`` calls after ``warmup``."""
    for _ in range(warmup):
        predict(tiles)
    wall, cpu = [], []
    for _ in range(iters):
        start, start_cpu = time.perf_counter(), time.process_time()
        predict(tiles)  # both return host arrays, so the GPU has finished when this returns
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


def bench_models(args: argparse.Namespace) -> list[Timing]:
    """Time ours and the peer for every requested device and tile size."""
    torch.set_num_threads(args.threads)
    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    rng = np.random.default_rng(0)
    rows: list[Timing] = []
    for device in devices:
        cuda = device.startswith("cuda")
        batch = args.cuda_batch if cuda else args.cpu_batch
        iters = args.iters * 3 if cuda else args.iters
        precisions = ["bf16"] if cuda else args.precisions
        models = {}
        for precision, network in itertools.product(precisions, args.networks):
            compiled = network == "compiled"
            ours, weights = our_detector(
                device, args.weights, compiled=compiled, precision=precision
            )
            suffix = ", torch.compile" if compiled else ""
            models.setdefault(precision, []).append(
                ("dwelltime OrientedCenterNet" + suffix, ours, weights)
            )
        for tile in args.tiles:
            tiles = bench_tiles(rng, batch, tile, cuda)
            peer_ms, timed = {}, []
            for precision in precisions:
                runs = [(*m, precision) for m in models[precision]]
                peer_precision = _peer_precision(precision)
                if peer_precision not in peer_ms:
                    peer = peer_detector(device, tile, bf16=peer_precision == "bf16")
                    runs.append((PEER, peer, "random", peer_precision))
                for name, predict, wlabel, prec in runs:
                    s, cpu = time_batches(predict, tiles, args.warmup, iters)
                    ms, cpu_ms = 1000 * s / batch, 1000 * cpu / batch
                    timed.append(
                        Timing(name, wlabel, device, tile, batch, batch / s, ms, cpu_ms, prec)
                    )
                    if name == PEER:
                        peer_ms[prec] = ms
            rows += [
                replace(
                    t,
                    speedup_vs_peer=peer_ms[_peer_precision(t.precision)] / t.ms_per_tile,
                    speedup_vs_peer_fp32=peer_ms.get("fp32", float("nan")) / t.ms_per_tile,
                )
                for t in timed
            ]
    return rows


def _peer_precision(precision: str) -> str:
    """The peer's precision timed against ours in ``precision``: the same, fp32 for int8."""
    return "fp32" if precision == "int8" else precision


def markdown_table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table; ``align`` holds one letter per column, ``l`` or ``r``."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    return [line(header), rule, *map(line, rows)]


def markdown(rows: list[Timing]) -> str:
    """The table as Markdown."""
    header = "model weights device precision tile batch tiles/s ms/tile".split()
    header += ["CPU ms/tile", "speed-up vs peer (same precision)", "vs peer fp32"]
    cells = (
        [
            r.model,
            r.weights,
            r.device,
            r.precision,
            f"{r.tile}²",
            str(r.batch),
            f"{r.tiles_per_s:.2f}",
            f"{r.ms_per_tile:.1f}",
            f"{r.cpu_ms_per_tile:.0f}",
            f"{r.speedup_vs_peer:.2f}×",
            f"{r.speedup_vs_peer_fp32:.2f}×",
        ]
        for r in rows
    )
    return "\n".join(markdown_table(header, "llllrrrrrrr", cells))


#: Timed stages of the batch job: (module, attribute, stage key). Nested calls are taken apart
#: in :func:`breakdown` (``reproject`` runs inside ``read_to_grid``).
WRAPPED = (
    ("dwelltime.regrid", "read_to_grid", "read_to_grid"),  # valid_mask's calls
    ("dwelltime.tiling", "read_to_grid", "read_to_grid"),  # iter_tiles' image reads
    ("rasterio.warp", "reproject", "reproject"),  # imported by read_to_grid at each call
    ("dwelltime.tiling", "stretch_limits", "stretch_read"),
    ("dwelltime.tiling", "to_uint8", "stretch"),
    ("dwelltime.detector.predict:Detector", "launch", "infer"),  # waits for the batch before
    ("dwelltime.detector.predict:Detector", "collect", "infer"),  # decoding (refiner: below)
    ("dwelltime.detector.predict:Detector", "_refine", "refine"),
    ("dwelltime.detector.predict", "detections_frame", "post"),
    ("dwelltime.store:SceneStore", "commit", "write"),
    ("dwelltime.detector", "load_detector", "setup"),  # imported by run_batch at each call
    ("dwelltime.detector.predict:Detector", "warm_up", "setup"),  # compiling, cuDNN timings
    ("dwelltime.batch.runner", "Finishers", "setup"),  # starting the finisher processes
    ("dwelltime.batch.runner", "_feed", "setup"),  # forking the readers, making the tile ring
    ("dwelltime.batch.runner", "scan", "setup"),
    ("dwelltime.batch.runner", "link_scenes", "setup"),
    ("dwelltime.batch.runner", "write_result", "setup"),
    ("dwelltime.batch.runner", "_write_combined", "setup"),
)
#: Stage key → column heading.
STAGES = {
    "feed": "feed",
    "read": "read",
    "resample": "resample",
    "infer": "infer",
    "refine": "type refiner",
    "post": "post-process",
    "write": "write",
    "other": "other",
}


@dataclass(frozen=True)
class PipelineTiming:
    """One run mode × device × tile size of the batch job (or the model alone on random tiles).

    Seconds are per run (means over ``--repeat``), setup (model load, scan, tables) excluded;
    ``stages`` holds seconds per stage of :data:`STAGES` (this process's threads only: in an
    overlapped run reading happens in the workers, and "feed" is the wait for them).
    """

    mode: str  # sequential | overlapped | model only
    device: str
    tile: int
    batch: int
    workers: int
    scenes: int
    tiles: int
    apron_km2: float  # apron area inside the scenes' footprints, summed over scenes
    seconds: float
    tiles_per_s: float
    km2_per_s: float
    cpu_ms_per_tile: float = float("nan")  # this process, all threads; not for overlapped
    setup_s: float = float("nan")
    stages: dict[str, float] = field(default_factory=dict)
    stages_cpu: dict[str, float] = field(default_factory=dict)  # sequential: CPU s per stage
    compiled: bool = False  # the network through torch.compile (``--networks compiled``)
    finishers: int | None = None  # post-processing processes (0: a thread; None: job default)
    gpu_busy_pct: float = float("nan")  # CUDA: mean NVML utilisation over the scene loop


@contextlib.contextmanager
def patched(owner: object, name: str, wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    """``owner.name`` replaced by ``wrap(owner.name)`` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


#: Seconds between samples of the GPU's utilisation (``timed_stages(gpu=True)``).
GPU_SAMPLE_S = 0.05


@contextlib.contextmanager
def timed_stages(gpu: bool = False) -> Iterator[dict[str, float]]:
    """Wrap the functions of :data:`WRAPPED`; each call adds its own wall seconds (less those
    of wrapped calls inside it) to its key, and its process CPU seconds to ``"cpu " + key``.
    Calls made while a ``setup`` call runs, in any thread (the report figures read imagery,
    co-registration reads on a thread pool), count as setup only. Nesting is followed per
    thread: the job's finisher thread (post-processing and writing) runs beside inference, so
    stage seconds may add up to more than the wall clock. ``gpu``: also sample NVML's
    utilisation of the GPU (the share of time a kernel ran) every :data:`GPU_SAMPLE_S` while
    no setup call runs, into ``"gpu busy"`` (sum of percentages) and ``"gpu samples"``; none
    where torch cannot read it (no ``pynvml``). It tells a job that keeps the GPU busy from
    one that its main thread holds back."""
    import importlib
    import threading

    totals: dict[str, float] = {}
    lock = threading.Lock()
    local = threading.local()  # .frames: [key, wall s, CPU s of wrapped calls inside] per call
    setups = [0]  # setup calls running, in any thread

    def timer(key: str) -> Callable[[Callable], Callable]:
        def wrap(fn: Callable) -> Callable:
            def wrapper(*a: object, **k: object) -> object:
                frames = local.__dict__.setdefault("frames", [])
                if (setups[0] and key != "setup") or any(f[0] == "setup" for f in frames):
                    return fn(*a, **k)
                frame = [key, 0.0, 0.0]
                frames.append(frame)
                start, start_cpu = time.perf_counter(), time.process_time()
                setups[0] += key == "setup"
                try:
                    return fn(*a, **k)
                finally:
                    setups[0] -= key == "setup"
                    elapsed = time.perf_counter() - start
                    cpu = time.process_time() - start_cpu
                    frames.pop()
                    with lock:
                        totals[key] = totals.get(key, 0.0) + elapsed - frame[1]
                        totals[f"cpu {key}"] = totals.get(f"cpu {key}", 0.0) + cpu - frame[2]
                    if frames:
                        frames[-1][1] += elapsed
                        frames[-1][2] += cpu

            return wrapper

        return wrap

    stop = threading.Event()

    def sample_gpu() -> None:
        while not stop.wait(GPU_SAMPLE_S):
            if setups[0]:
                continue
            try:
                busy = float(torch.cuda.utilization())
            except Exception:  # no NVML here: no samples
                return
            with lock:
                totals["gpu busy"] = totals.get("gpu busy", 0.0) + busy
                totals["gpu samples"] = totals.get("gpu samples", 0.0) + 1

    with contextlib.ExitStack() as stack:
        for where, name, key in WRAPPED:
            module, _, cls = where.partition(":")
            owner = importlib.import_module(module)
            stack.enter_context(patched(getattr(owner, cls) if cls else owner, name, timer(key)))
        feed = importlib.import_module("dwelltime.batch.feed")
        stack.enter_context(patched(feed, "scene_loader", timed_iteration(timer("feed"))))
        if gpu:
            sampler = threading.Thread(target=sample_gpu, daemon=True)
            sampler.start()
            stack.callback(sampler.join)
            stack.callback(stop.set)
        yield totals


def timed_iteration(timer: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """Wrap a function returning an iterable so that fetching each item is timed by ``timer``
    (the batch job's wait for the next scene from its DataLoader). The iterator is made at
    the call, as unwrapped: the job's readers start then."""

    def wrap(make: Callable) -> Callable:
        def wrapper(*a: object, **k: object) -> Iterator[object]:
            items = iter(make(*a, **k))
            fetch = timer(next)

            def timed() -> Iterator[object]:
                while True:
                    try:
                        yield fetch(items)
                    except StopIteration:
                        return

            return timed()

        return wrapper

    return wrap


def breakdown(totals: dict[str, float], loop_s: float, prefix: str = "") -> dict[str, float]:
    """Stage seconds of :data:`STAGES` from the totals of :func:`timed_stages`: "feed" is the
    time spent getting the next scene from the DataLoader less the stages below that run
    inside it (in this process: tile windows, coverage polygons, packing; overlapped: waiting
    for the reader workers); the raw window read is ``read_to_grid`` less its ``reproject``
    (plus the stretch's decimated read); resampling is ``reproject`` plus the uint8 stretch;
    "infer" excludes the refiner; ``other`` is the rest of the scene loop (waiting for the
    finisher thread among it). ``prefix="cpu "``: the same in process CPU seconds (``loop_s``
    then CPU seconds too)."""

    def t(key: str) -> float:
        return totals.get(prefix + key, 0.0)

    out = {
        "feed": t("feed"),
        "read": t("read_to_grid") + t("stretch_read"),
        "resample": t("reproject") + t("stretch"),
        "infer": t("infer"),
        "refine": t("refine"),
        "post": t("post"),
        "write": t("write"),
    }
    out["other"] = max(0.0, loop_s - sum(out.values()))
    return out


def synth_imagery(
    folder: Path, scenes: int, copies: int, extent_m: float
) -> tuple[Path, str, Path | None]:
    """GSD 0.5 m scenes of ZKPY over the default apron square (``extent_m`` a side, centred on
    the airport reference point): ``scenes`` renders of the synth engine, each repeated to fill
    the square, written as uncompressed 3-band tiled GeoTIFFs on the 0.5 m lattice (as
    orthoimagery delivered at the model GSD often is) named with their time (a day
    apart), then hard-linked ``copies`` times under later times (more tiles without rendering
    more; every link is read as its own scene). No vector file is written or read, so it runs
    where only rasterio is installed. Returns (imagery folder, airport, aprons=None)."""
    import pandas as pd
    import rasterio
    from affine import Affine

    from dwelltime.synth.scene import SceneSpec, render_scene
    from dwelltime.synth.series import airport_layout
    from dwelltime.synth.traffic import occupants, simulate_traffic
    from dwelltime.synth.writers import image_name

    site, layout = airport_layout("ZKPY")
    imagery = folder / "imagery"
    imagery.mkdir(parents=True)
    t0 = pd.Timestamp("2023-07-29 03:00", tz="UTC")
    rng = np.random.default_rng(6)
    stays = simulate_traffic(
        layout,
        t0,
        t0 + pd.Timedelta(days=scenes),
        rng,
        residents=[("B738", "A1"), ("A320", "A3"), ("IL76", "B4")],
    )
    x, y = layout.ref_x, layout.ref_y  # the default apron square's centre too
    n = round(extent_m / 0.5)
    x0, y1 = (round(v / 0.5) * 0.5 for v in (x - extent_m / 2, y + extent_m / 2))
    transform = Affine(0.5, 0, x0, 0, -0.5, y1)  # on the tiles' lattice: read without resampling
    written = []
    for i in range(scenes):
        acquired = t0 + pd.Timedelta(days=i)
        spec = SceneSpec(
            f"zkpy_bench_{i:03d}", acquired, "filename", crs=site.crs, nodata_corner=False
        )
        data = render_scene(layout, occupants(stays, acquired), spec, site.lat, site.lon, 6).data
        reps = (1, -(-n // data.shape[1]), -(-n // data.shape[2]))
        mosaic = np.tile(data, reps)[:, :n, :n]
        path = imagery / image_name(spec.stem, acquired, "filename")
        profile = dict(driver="GTiff", width=n, height=n, count=3, dtype="uint8", crs=site.crs)
        profile.update(transform=transform, nodata=0, tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(mosaic)
        written.append((path, acquired))
    for k in range(copies):
        for j, (path, acquired) in enumerate(written):
            later = acquired + pd.Timedelta(days=scenes * (k + 1))
            os.link(
                path,
                imagery / image_name(f"zkpy_bench_{(k + 1) * scenes + j:03d}", later, "filename"),
            )
    return imagery, "ZKPY", None


def apron_km2(imagery: Path, airport: str, aprons: Path | None) -> float:
    """Apron area inside each scene's footprint, km², summed over the scenes of ``imagery``."""
    import geopandas as gpd

    from dwelltime.airports import load_aprons, lookup_airport
    from dwelltime.scenes import scan

    site = lookup_airport(airport)
    region = load_aprons(site, aprons).to_crs(site.crs).union_all()
    found = scan(imagery).scenes
    footprints = gpd.GeoSeries([s.footprint for s in found], crs="EPSG:4326").to_crs(site.crs)
    return float(sum(region.intersection(f).area for f in footprints) / 1e6)


def run_job(
    args: argparse.Namespace,
    source: tuple[Path, str, Path | None],
    device: str,
    tile: int,
    workers: int,
    compiled: bool = False,
    finishers: int | None = None,
) -> tuple[float, int, int, dict[str, float]]:
    """One ``run_batch`` into a fresh output folder: (wall s, scenes, tiles, stage totals with
    ``"cpu"``, the process CPU seconds of the whole run)."""
    import dwelltime.batch.runner as runner
    from dwelltime.batch.runner import run_batch
    from dwelltime.batch.spec import AirportJob, BatchSpec

    imagery, airport, aprons = source
    batch = args.cuda_batch if device.startswith("cuda") else args.cpu_batch
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(tempfile.TemporaryDirectory(prefix="dwelltime-bench-out-"))
        if args.no_tables:
            stack.enter_context(patched(runner, "link_scenes", lambda _: no_stays))
            stack.enter_context(patched(runner, "write_result", lambda _: lambda *a, **k: None))
        # outermost wrapper: the warm-up is setup
        t = stack.enter_context(timed_stages(gpu=device.startswith("cuda")))
        spec = BatchSpec(
            output=Path(out),
            jobs=(AirportJob(airport=airport, imagery=imagery, aprons=aprons),),
            device=device,
            batch_size=batch,
            workers=workers,
            tile_size_px=tile,
            formats=("parquet",),  # no GDAL vector driver needed (the GPU box has none)
            compile=compiled,
            finishers=finishers,
        )
        start, start_cpu = time.perf_counter(), time.process_time()
        summary = run_batch(spec, weights=args.weights)
        wall = time.perf_counter() - start
        totals = {**t, "cpu": time.process_time() - start_cpu}
    done = sum(a.done for a in summary.airports)
    return wall, done, sum(a.tiles for a in summary.airports), totals


def no_stays(site, aprons, scenes, coverage, detections, **_linking):
    """Stands in for ``link_scenes`` under ``--no-tables``: the scenes' frames, no stays
    (``_linking``: its keyword settings, unused)."""
    from dwelltime.pipeline import RunResult
    from dwelltime.schema import SCENE_COLUMNS, STAY_COLUMNS, empty_frame

    empty_scenes = empty_frame(SCENE_COLUMNS, site.crs)
    return RunResult(
        site, aprons, empty_scenes, coverage, detections, empty_frame(STAY_COLUMNS, site.crs)
    )


def bench_pipeline(
    args: argparse.Namespace, source: tuple[Path, str, Path | None]
) -> list[PipelineTiming]:
    """Sequential (stages timed), overlapped (``--workers``) and model-only rows for every
    requested device and tile size."""
    torch.set_num_threads(args.threads)
    km2 = apron_km2(*source)
    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    rng = np.random.default_rng(0)
    rows: list[PipelineTiming] = []
    variants = [n == "compiled" for n in args.networks]
    for device, compiled in ((d, c) for d in devices for c in variants):
        cuda = device.startswith("cuda")
        batch = args.cuda_batch if cuda else args.cpu_batch
        ours, _ = our_detector(device, args.weights, compiled=compiled)
        for tile in args.tiles:
            n_tiles = 0
            for mode in args.modes:
                workers = 0 if mode == "sequential" else args.workers
                finishers = 0 if mode == "sequential" else args.finishers
                runs = []
                for _ in range(args.repeat):
                    runs.append(run_job(args, source, device, tile, workers, compiled, finishers))
                    wall, setup_s = runs[-1][0], runs[-1][3].get("setup", 0.0)
                    print(
                        f"{mode} {device} {tile}² compiled={compiled}: {runs[-1][2]} tiles, "
                        f"{wall - setup_s:.1f} s + setup {setup_s:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                scenes, n_tiles = runs[0][1], runs[0][2]
                setup = statistics.mean(r[3].get("setup", 0.0) for r in runs)
                loop = statistics.mean(r[0] for r in runs) - setup
                stages_cpu: dict[str, float] = {}
                cpu_ms = float("nan")
                wall = [breakdown(r[3], r[0] - r[3].get("setup", 0.0)) for r in runs]
                stages = {k: statistics.mean(p[k] for p in wall) for k in STAGES}
                if workers == 0:
                    cpu = [
                        breakdown(r[3], r[3]["cpu"] - r[3].get("cpu setup", 0.0), "cpu ")
                        for r in runs
                    ]
                    stages_cpu = {k: statistics.mean(p[k] for p in cpu) for k in STAGES}
                    cpu_ms = 1000 * sum(stages_cpu.values()) / max(n_tiles, 1)
                sampled = [r[3] for r in runs if r[3].get("gpu samples")]
                busy = [r["gpu busy"] / r["gpu samples"] for r in sampled] or [float("nan")]
                rows.append(
                    PipelineTiming(
                        mode,
                        device,
                        tile,
                        batch,
                        workers,
                        scenes,
                        n_tiles,
                        km2,
                        loop,
                        n_tiles / loop,
                        km2 / loop,
                        cpu_ms,
                        setup,
                        stages,
                        stages_cpu,
                        compiled,
                        finishers,
                        statistics.mean(busy),
                    )
                )
            images = bench_tiles(rng, batch, tile, cuda)
            s, cpu = time_batches(ours, images, args.warmup, args.iters * 3 if cuda else args.iters)
            seconds = s * n_tiles / batch  # the model alone on as many tiles as the job had
            rows.append(
                PipelineTiming(
                    "model only",
                    device,
                    tile,
                    batch,
                    0,
                    0,
                    n_tiles,
                    km2,
                    seconds,
                    batch / s,
                    km2 / seconds if seconds else float("nan"),
                    1000 * cpu / batch,
                    compiled=compiled,
                )
            )
    return rows


def pipeline_markdown(rows: list[PipelineTiming]) -> str:
    """Throughput table, then the stage breakdown of the sequential runs, then the verdict."""
    model = {(r.device, r.tile, r.compiled): r.tiles_per_s for r in rows if r.mode == "model only"}
    header = "mode device tile batch workers scenes tiles".split()
    header += ["apron km²", "s", "setup s", "tiles/s", "km²/s", "CPU ms/tile", "vs model only"]
    header += ["GPU busy"]
    throughput = (
        [
            mode_label(r),
            r.device,
            f"{r.tile}²",
            str(r.batch),
            str(r.workers),
            str(r.scenes),
            str(r.tiles),
            f"{r.apron_km2:.2f}",
            f"{r.seconds:.1f}",
            "–" if np.isnan(r.setup_s) else f"{r.setup_s:.1f}",
            f"{r.tiles_per_s:.2f}",
            f"{r.km2_per_s:.3f}",
            "–" if np.isnan(r.cpu_ms_per_tile) else f"{r.cpu_ms_per_tile:.0f}",
            f"{r.tiles_per_s / model[(r.device, r.tile, r.compiled)]:.0%}",
            "–" if np.isnan(r.gpu_busy_pct) else f"{r.gpu_busy_pct:.0f} %",
        ]
        for r in rows
    )
    lines = markdown_table(header, "llrrrrrrrrrrrrr", throughput)
    stages = [
        [
            mode_label(r),
            r.device,
            f"{r.tile}²",
            *(f"{r.stages[k]:.2f} s ({r.stages[k] / r.seconds:.0%})" for k in STAGES),
            "–" if not r.stages_cpu else f"{1000 * r.stages_cpu['infer'] / max(r.tiles, 1):.0f}",
            bound_by(r.stages),
        ]
        for r in rows
        if r.stages
    ]
    header = ["mode", "device", "tile", *STAGES.values(), "infer CPU ms/tile", "bound by"]
    lines += ["", *markdown_table(header, "llr" + "r" * len(STAGES) + "rl", stages)]
    return "\n".join(lines)


def mode_label(r: PipelineTiming) -> str:
    """The run mode, with the compiled network and the finisher processes when used."""
    n = r.finishers or 0
    finishers = f", {n} finisher process{'es' if n > 1 else ''}" if n else ""
    return r.mode + (", compiled" if r.compiled else "") + finishers


def bound_by(stages: dict[str, float]) -> str:
    """The largest share of a run's scene loop: the model (network and refiner), getting the
    scenes (reading, resampling, or waiting for the reader workers), or the rest."""
    shares = {
        "model": stages["infer"] + stages["refine"],
        "reading": stages["feed"] + stages["read"] + stages["resample"],
        "post-processing + writing": stages["post"] + stages["write"],
        "other": stages["other"],
    }
    return max(shares, key=shares.get)


def environment(args: argparse.Namespace) -> dict[str, object]:
    """What the figures depend on: library versions, chip, threads, load, niceness."""
    return {
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average_1_5_15": os.getloadavg(),
        "niceness": os.nice(0),
    }


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    env = environment(args)
    if args.pipeline:
        with tempfile.TemporaryDirectory(prefix="dwelltime-bench-") as tmp:
            if args.imagery is None:
                source = synth_imagery(Path(tmp), args.scenes, args.copies, args.extent_m)
            else:
                source = (args.imagery, args.airport, args.aprons)
            rows = bench_pipeline(args, source)
        table = pipeline_markdown(rows)
    else:
        rows = bench_models(args)
        table = markdown(rows)
    env["load_average_after"] = os.getloadavg()
    print(table)
    print(
        f"\ntorch {env['torch']}, {env['threads']} CPU threads, "
        f"load average before {env['load_average_1_5_15']}, after {env['load_average_after']}"
    )
    if args.out is not None:
        doc = {"environment": env, "rows": [asdict(r) for r in rows]}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    try:
        main()
    except DwelltimeError as exc:  # a bad --weights, --device, input file…: one line
        raise SystemExit(str(exc)) from None

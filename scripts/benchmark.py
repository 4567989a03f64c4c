"""Detector speed benchmark (not a test): tiles per second, ours against a torchvision peer.

Times, on the same random uint8 tiles and in the same run, dwelltime's detector
(``Detector.predict``: upload, normalise, network, decoding to oriented boxes) and torchvision's
``fasterrcnn_mobilenet_v3_large_fpn`` (no weights, ``min_size=max_size=tile``, 2 classes; the
uint8→float conversion and its post-processing included). CPU runs use ``--threads`` torch
threads (default 2); CUDA, when available, batch 32 under bf16 autocast with channels-last.
Our detector uses the shipped weights when ``models/`` holds them, else random weights (the
table says which): speed does not depend on the weights' values. Besides wall time per tile
the table gives process CPU time per tile (all threads), steadier on a shared, busy host.

    python scripts/benchmark.py --out bench.json
    python scripts/benchmark.py --tiles 512 --devices cpu --iters 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch


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
    speedup_vs_peer: float = float("nan")


def build_parser() -> argparse.ArgumentParser:
    """Arguments; one group per benchmark (``--pipeline`` is to come as its own group)."""
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
    models.add_argument("--cpu-batch", type=int, default=4, help="Tiles per batch on CPU.")
    models.add_argument("--cuda-batch", type=int, default=32, help="Tiles per batch on CUDA.")
    models.add_argument("--warmup", type=int, default=1, help="Untimed batches first.")
    models.add_argument("--iters", type=int, default=3, help="Timed batches (CUDA: ×3).")
    models.add_argument("--weights", type=Path, default=None, help="Our detector's weights.")
    return parser


def our_detector(device: str, weights: Path | None) -> tuple[Callable[[np.ndarray], object], str]:
    """``predict`` of dwelltime's detector and a word on its weights (path or "random")."""
    from dwelltime.detector import Detector, build_detector, default_classes, load_detector
    from dwelltime.errors import WeightsError

    try:
        detector = load_detector(weights, device=device)
        label = "shipped" if weights is None else str(weights)
    except WeightsError:
        if weights is not None:
            raise
        classes = default_classes()
        model = build_detector(num_classes=len(classes))
        detector = Detector(model, classes=classes, device=device)
        label = "random"
    return detector.predict, label


def peer_detector(device: str, tile: int) -> Callable[[np.ndarray], object]:
    """torchvision FRCNN-MobileNet-v3-FPN (random weights) on uint8 batches, as deployed."""
    import torchvision

    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, min_size=tile, max_size=tile, num_classes=2
    )
    dev = torch.device(device)
    model = model.eval().to(dev, memory_format=torch.channels_last)
    cuda = dev.type == "cuda"

    def predict(images: np.ndarray) -> object:
        x = torch.from_numpy(images).to(dev).float().div_(255.0)
        x = x.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast("cuda", torch.bfloat16) if cuda else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            out = model(list(x))
        return [{k: v.float().cpu() for k, v in o.items()} for o in out]

    return predict


def time_batches(
    predict: Callable[[np.ndarray], object], tiles: np.ndarray, warmup: int, iters: int
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
        ours, weights = our_detector(device, args.weights)
        for tile in args.tiles:
            tiles = rng.integers(0, 256, (batch, 3, tile, tile), dtype=np.uint8)
            pair = []
            for name, predict, wlabel in (
                ("dwelltime OrientedCenterNet", ours, weights),
                ("torchvision FRCNN-MobileNet-v3-FPN", peer_detector(device, tile), "random"),
            ):
                s, cpu = time_batches(predict, tiles, args.warmup, iters)
                ms, cpu_ms = 1000 * s / batch, 1000 * cpu / batch
                pair.append(Timing(name, wlabel, device, tile, batch, batch / s, ms, cpu_ms))
            ours_t, peer_t = pair
            rows += [
                Timing(
                    **{**asdict(ours_t), "speedup_vs_peer": peer_t.ms_per_tile / ours_t.ms_per_tile}
                ),
                Timing(**{**asdict(peer_t), "speedup_vs_peer": 1.0}),
            ]
    return rows


def markdown(rows: list[Timing]) -> str:
    """The table as Markdown."""
    lines = [
        "| model | weights | device | tile | batch | tiles/s | ms/tile | CPU ms/tile "
        "| speed-up vs peer |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.weights} | {r.device} | {r.tile}² | {r.batch} | "
            f"{r.tiles_per_s:.2f} | {r.ms_per_tile:.1f} | {r.cpu_ms_per_tile:.0f} | "
            f"{r.speedup_vs_peer:.2f}× |"
        )
    return "\n".join(lines)


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
    rows = bench_models(args)
    env["load_average_after"] = os.getloadavg()
    print(markdown(rows))
    print(
        f"\ntorch {env['torch']}, {env['threads']} CPU threads, "
        f"load average before {env['load_average_1_5_15']}, after {env['load_average_after']}"
    )
    if args.out is not None:
        doc = {"environment": env, "rows": [asdict(r) for r in rows]}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""What the batch job's post-processing costs the thread that launches the network's kernels.

Usage: python scripts/bench_finishers.py [--ops 100000] [--rounds 3] [--processes 1 2]

Renders one scene as ``scripts/benchmark.py --pipeline`` does (ZKPY, 0.5 m, 1024² tiles),
detects it once with the shipped detector, then times a stand-in for the main thread of a GPU
job: ``--ops`` tiny in-place torch ops, each one Python call into torch as a kernel launch is.
It times them alone, and while the job's finisher (:class:`dwelltime.batch.finishers.Finishers`)
turns the scene's predictions into map rows over and over (``detections_frame``, no writing):
on a thread of this process (``finishers: 0``) and in ``--processes`` processes. Prints the
ops' median wall time per setting, how much slower than alone, and the scenes post-processed
meanwhile. A benchmark, not a test; on a 2-core machine the processes also compete for the
cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

#: Scenes queued for the finisher before the ops start: more than it gets through meanwhile.
QUEUE = 400


def post_process(payload, predictions, post) -> int:
    """One scene's predictions into map rows, as a finisher does (without committing)."""
    from dwelltime.detector.predict import detections_frame

    pairs = list(zip(payload.full_tiles(), predictions, strict=True))
    return len(detections_frame(pairs, post, source_gsd_m=payload.scene.gsd_m))


def scene_predictions(folder: Path):
    """A rendered scene's payload (without pixels) and the shipped detector's predictions."""
    from benchmark import synth_imagery
    from dwelltime.airports import load_aprons, lookup_airport
    from dwelltime.batch.feed import read_payload
    from dwelltime.detector import load_detector, predict_scenes
    from dwelltime.scenes import scan
    from dwelltime.tiling import TileSpec

    imagery, airport, _ = synth_imagery(folder, scenes=1, copies=0, extent_m=3000.0)
    site = lookup_airport(airport)
    scene = scan(imagery).scenes[0]
    detector = load_detector(None, device="cpu")
    payload = read_payload(scene, site, load_aprons(site, None), TileSpec(0.5, 1024))
    ((_, predictions),) = predict_scenes([(None, payload.images)], detector, batch_size=4)
    return payload.without_pixels(), predictions, detector.post_processor()


def tiny_ops(n: int) -> float:
    """Seconds for ``n`` in-place adds on a small tensor."""
    x = torch.zeros(8)
    start = time.perf_counter()
    for _ in range(n):
        x.add_(1.0)
    return time.perf_counter() - start


def beside(processes: int | None, job: tuple, ops: int, rounds: int) -> tuple[float, float]:
    """(median seconds of the ops, scenes post-processed per second meanwhile) with a
    finisher of ``processes`` (0: a thread; None: no finisher) kept busy throughout."""
    from dwelltime.batch.finishers import Finishers

    if processes is None:
        return statistics.median(tiny_ops(ops) for _ in range(rounds)), 0.0
    with Finishers(processes) as finishers:
        for future in [finishers.submit(post_process, *job) for _ in range(finishers.slots)]:
            future.result()  # started and warm
        queued = [finishers.submit(post_process, *job) for _ in range(QUEUE)]
        start = time.perf_counter()
        times = [tiny_ops(ops) for _ in range(rounds)]
        elapsed = time.perf_counter() - start
        done = sum(f.done() for f in queued)
        for future in queued:
            future.cancel()
    return statistics.median(times), done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100000, help="tiny torch ops per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="dwelltime-bench-") as tmp:
        job = scene_predictions(Path(tmp))
    print(f"{len(job[0].tiles)} tiles of 1024², {sum(len(p) for p in job[1])} detections")
    print("finisher        ops ms   × alone   scenes/s post-processed meanwhile")
    alone, _ = beside(None, job, args.ops, args.rounds)
    for label, processes in [("none", None), ("thread", 0)] + [
        (f"{n} process{'es' if n > 1 else ''}", n) for n in args.processes
    ]:
        seconds, rate = beside(processes, job, args.ops, args.rounds)
        print(f"{label:<14} {1000 * seconds:7.0f}   {seconds / alone:6.1f}×   {rate:6.1f}")


if __name__ == "__main__":
    main()

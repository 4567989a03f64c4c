"""Benchmark training-chip rendering: prints chips/s (and ms per chip).

Usage: python scripts/bench_synth.py [-n 200] [--size 512] [--gsd 0.5] [--workers 1]

The issue's target: 10,000 chips of 512² in at most 10 minutes on 2 cores, i.e. at least
16.7 chips/s in total (≤ 60 ms per chip single-process, or 2 workers).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from dwelltime.synth import render_chip


def _render(args: tuple[int, int, int, float]) -> int:
    seed, n, size, gsd = args
    rng = np.random.default_rng(seed)
    labels = 0
    for _ in range(n):
        labels += len(render_chip(rng, size_px=size, gsd_m=gsd).labels)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="chips to render")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--gsd", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    render_chip(np.random.default_rng(123), size_px=args.size, gsd_m=args.gsd)  # warm caches
    per = -(-args.n // args.workers)
    jobs = [(seed, per, args.size, args.gsd) for seed in range(args.workers)]
    start = time.perf_counter()
    if args.workers == 1:
        labels = _render(jobs[0])
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            labels = sum(pool.map(_render, jobs))
    elapsed = time.perf_counter() - start
    total = per * args.workers
    print(
        f"{total} chips of {args.size}² at {args.gsd} m with {labels} aircraft in {elapsed:.1f} s "
        f"on {args.workers} process(es): {total / elapsed:.1f} chips/s, "
        f"{1000 * elapsed / total * args.workers:.1f} ms per chip per process; "
        f"10,000 chips would take {10000 / (total / elapsed) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()

"""How fast reader processes can hand a batch job's pixels to the GPU (a benchmark, not a test).

Scenes of 49 tiles of 1024² (154 MB) filled by ``--workers`` DataLoader workers and uploaded
by the main process, two ways:

- fresh: a new shared buffer per scene, pinned by the DataLoader's pinning thread (the job's
  way until session 13);
- ring: the job's :class:`~dwelltime.batch.feed.TileRing`, slots of shared memory made
  before the workers fork, registered with CUDA as pinned memory, reused.

No reading or decoding: the workers copy a ready tile buffer, so the figures bound the
hand-over alone. On a machine without CUDA the upload is a no-op and "ring" is unpinned.

    python scripts/bench_transfer.py --scenes 120 --workers 14
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable

import torch
from torch.utils.data import IterableDataset, get_worker_info

from dwelltime.batch.feed import READ_AHEAD, TileRing, scene_loader, shared_uint8

TILES, PX = 49, 1024


class Fresh(IterableDataset):
    """Scene k, k + n, … of ``scenes`` for worker k, each handed over in a new shared
    buffer."""

    def __init__(self, scenes: int) -> None:
        self.scenes = scenes

    def __iter__(self):
        info = get_worker_info()
        tiles = torch.full((TILES, 3, PX, PX), info.id + 1, dtype=torch.uint8)
        for _ in range(info.id, self.scenes, info.num_workers):
            yield self.hand_over(tiles)

    def hand_over(self, tiles: torch.Tensor) -> object:
        """What goes to the main process for one scene's ``tiles``."""
        return shared_uint8(tuple(tiles.shape)).copy_(tiles)


class Ring(Fresh):
    """The same scenes written into slots of ``ring``; hands over slot numbers."""

    def __init__(self, scenes: int, ring: TileRing) -> None:
        super().__init__(scenes)
        self.ring = ring

    def hand_over(self, tiles: torch.Tensor) -> object:
        slot = self.ring.take(TILES)
        self.ring.pixels[slot, :TILES].copy_(tiles)
        return slot


def upload(items: Iterable, pixels: Callable, done: Callable) -> tuple[int, float]:
    """(scenes, seconds) to upload every item's pixels and read one value back, the first
    scene (workers starting) not timed."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n, start = 0, 0.0
    for item in items:
        pixels(item).to(device, non_blocking=True)[:, 0, 0, 0].sum().item()  # waits for it
        done(item)
        n += 1
        if n == 1:
            start = time.perf_counter()
    return n - 1, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=120)
    parser.add_argument("--workers", type=int, default=14)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()

    def report(name: str, n: int, s: float) -> None:
        print(f"{name}: {n / s:.1f} scenes/s ({TILES * n / s:.0f} tiles/s of {PX}²)", flush=True)

    loader = scene_loader(Fresh(args.scenes), workers=args.workers, pin_memory=cuda)
    report("fresh buffers, pinned by the DataLoader", *upload(loader, lambda x: x, lambda x: None))
    ring = TileRing(READ_AHEAD * args.workers + 2, PX)
    # the workers fork (iter) before the ring is pinned
    slots = iter(scene_loader(Ring(args.scenes, ring), workers=args.workers, pin_memory=False))
    if cuda:
        ring.pin()
    report("tile ring", *upload(slots, lambda k: ring.pixels[k, :TILES], ring.release))
    ring.close()


if __name__ == "__main__":
    main()

"""Fixed-shape CUDA work replayed from a CUDA graph: one launch instead of hundreds.

The type refiner's look at a chunk of crops is about a thousand small kernels (MobileNetV3-Small
on the crops and their mirror images); launched one by one from the batch job's main thread,
which also feeds the network, their launches cost more than the GPU's work. A
:class:`GraphedCall` records them once per chunk size and replays them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch


class GraphedCall:
    """``fn`` on CUDA tensors shaped like ``example``, captured once as a CUDA graph (after
    one eager run on a side stream, which lets cuDNN pick its algorithms) and replayed by
    each call. ``context`` is entered around both, e.g. autocast, which must not cache its
    casts: cached tensors would outlive the capture. Calls return new tensors (the graph's own
    outputs are overwritten by the next replay)."""

    def __init__(
        self,
        fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
        example: torch.Tensor,
        context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> None:
        self.input = example.clone()
        current = torch.cuda.current_stream(example.device)
        side = torch.cuda.Stream(example.device)
        side.wait_stream(current)
        with torch.cuda.stream(side), context():
            fn(self.input)
        current.wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: the batch job's other threads (pinning, finishers' queue) go on
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"), context():
            self.output = fn(self.input)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``fn(x)`` for ``x`` of the example's shape, replayed on the current stream."""
        self.input.copy_(x)
        self.graph.replay()
        return tuple(o.clone() for o in self.output)

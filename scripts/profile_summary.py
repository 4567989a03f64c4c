"""Where the time went, from a py-spy profile in speedscope format (``py-spy record --idle
--format speedscope``, as ``PROFILE=1 bash scripts/device/pipeline.sh`` writes it).

Usage: python scripts/profile_summary.py PROFILE.json[.gz] [--within _local_scenes] [--top 25]

Per thread, over the samples whose stack passes through a function named ``--within`` (the
batch job's scene loop by default): the functions that held the most samples, counting a
function once per sample wherever it is on the stack (inclusive), and the innermost frames
(where the thread actually was: running, or waiting with ``--idle``). Threads without such
samples are left out. Shares are of the thread's samples within the window; the inclusive
table counts only the frames inside it.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path


def frame_label(frame: dict, line: bool = True) -> str:
    """``function (file:line)``, or ``function (file)``, with the file's last two parts."""
    where = "/".join(Path(frame.get("file") or "?").parts[-2:])
    return (
        f"{frame['name']} ({where}:{frame.get('line', '?')})"
        if line
        else f"{frame['name']} ({where})"
    )


def summarise(profile: dict, within: str, top: int) -> list[str]:
    """Report lines for every thread (speedscope "sampled" profile) with samples inside
    ``within``."""
    frames = profile["shared"]["frames"]
    lines = []
    for thread in profile["profiles"]:
        inclusive: Counter[str] = Counter()  # by function: py-spy's frames are per line
        innermost: Counter[str] = Counter()
        total = 0.0
        for stack, weight in zip(thread["samples"], thread["weights"], strict=True):
            start = next((k for k, i in enumerate(stack) if frames[i]["name"] == within), None)
            if start is None:
                continue
            total += weight
            inside = {frame_label(frames[i], line=False) for i in stack[start + 1 :]}
            inclusive.update(dict.fromkeys(inside, weight))
            innermost[frame_label(frames[stack[-1]])] += weight
        if not total:
            continue
        lines.append(f"## {thread['name']}: {total:g} {thread.get('unit', 'samples')} in {within}")
        for title, counts in (("inclusive", inclusive), ("innermost", innermost)):
            lines.append(f"{title}:")
            for label, w in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
                lines.append(f"  {100 * w / total:5.1f}%  {label}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--within", default="_local_scenes", help="function name to look inside")
    parser.add_argument("--top", type=int, default=25, help="functions listed per table")
    args = parser.parse_args()
    opener = gzip.open if args.profile.suffix == ".gz" else open
    with opener(args.profile, "rt") as f:
        lines = summarise(json.load(f), args.within, args.top)
    print("\n".join(lines) if lines else f"no samples inside {args.within}")


if __name__ == "__main__":
    main()

"""dwelltime: how long did this aircraft stay on the ground? Dwell-time intervals from imagery.

Data flows one way: scan → tile → detect → link → estimate → report. Each stage is a plain
function over plain data (dataclasses or GeoDataFrames whose columns :mod:`dwelltime.schema`
documents); the CLI, notebooks and the batch job call the same functions.

Start here: ``from dwelltime import pipeline``; ``result = pipeline.run(folder, "ZKPY")``
runs every stage and returns a :class:`~dwelltime.pipeline.RunResult` (its frames
``scenes``, ``coverage``, ``detections``, ``stays``); ``result.relink(max_gap_h=24)`` links
again by other rules; ``pipeline.write_result(result, out_dir)`` writes what ``dwelltime run
--out`` writes; ``pipeline.read_result(out_dir)`` reads it all back as a RunResult and
``dwelltime.io.read_layer(out_dir, "stays")`` one layer (after ``import dwelltime``, each
module is reached as ``dwelltime.pipeline``, ``dwelltime.io``…, imported on first use). The stages
one by one: :mod:`dwelltime.scenes` (scan), :mod:`dwelltime.airports` (aprons),
:mod:`dwelltime.tiling`, :mod:`dwelltime.detector`, :mod:`dwelltime.linking` (link and
estimate), :mod:`dwelltime.report` and :mod:`dwelltime.plot`.
"""

import functools as _functools
import importlib as _importlib

__version__ = "0.1.0"


@_functools.cache
def _submodules() -> tuple[str, ...]:
    """``dwelltime.SUBMODULES``: the package's modules and subpackages, reachable as attributes
    of ``dwelltime``; listed on first use (pkgutil alone would make ``import dwelltime`` 10×
    slower)."""
    import pkgutil

    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name[0] != "_"))


def __getattr__(name: str) -> object:
    """``dwelltime.pipeline`` and the other ``SUBMODULES``, imported on first use (so
    ``import dwelltime`` stays light: no torch, no GDAL)."""
    if name == "SUBMODULES":
        return _submodules()
    if name in _submodules():
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's public names and ``SUBMODULES``, for tab completion in a notebook."""
    names = {*(n for n in globals() if not n.startswith("_")), "__version__", "SUBMODULES"}
    return sorted({*names, *_submodules()})

"""dwelltime: how long did this aircraft stay on the ground? Dwell-time intervals from imagery.

Data flows one way: scan → tile → detect → link → estimate → report. Each stage is a plain
function over plain data (dataclasses or GeoDataFrames whose columns :mod:`dwelltime.schema`
documents); the CLI, notebooks and the batch job call the same functions.

Start here: ``from dwelltime import pipeline``; ``result = pipeline.run(folder, "ZKPY")``
runs every stage and returns a :class:`~dwelltime.pipeline.RunResult` (its frames
``scenes``, ``coverage``, ``detections``, ``stays``); ``result.relink(max_gap_h=24)`` links
again by other rules; ``pipeline.write_result(result, out_dir)`` writes what ``dwelltime run
--out`` writes; ``pipeline.read_result(out_dir)`` reads it all back as a RunResult and
``dwelltime.io.read_layer(out_dir, "stays")`` one layer. The stages
one by one: :mod:`dwelltime.scenes` (scan), :mod:`dwelltime.airports` (aprons),
:mod:`dwelltime.tiling`, :mod:`dwelltime.detector`, :mod:`dwelltime.linking` (link and
estimate), :mod:`dwelltime.report` and :mod:`dwelltime.plot`.
"""

__version__ = "0.1.0"

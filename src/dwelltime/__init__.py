"""dwelltime: how long did this aircraft stay on the ground? Dwell-time intervals from imagery.

Data flows one way: scan → tile → detect → link → estimate → report. Each stage is a plain
function over plain data (dataclasses or GeoDataFrames whose columns :mod:`dwelltime.schema`
documents); the CLI, notebooks and the batch job call the same functions.
"""

__version__ = "0.1.0"

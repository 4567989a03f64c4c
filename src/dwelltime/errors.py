"""Errors raised by dwelltime, each named after what went wrong and saying how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dwelltime.formats import IMAGE_SUFFIXES, unpack_command


class DwelltimeError(Exception):
    """Base class of every error dwelltime raises on purpose."""


class SceneError(DwelltimeError):
    """An image cannot be used: unreadable, no CRS, no acquisition time…

    The message names the file and the reason in one line.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NoImageError(SceneError):
    """A folder under which no file is an image of a kind dwelltime reads (the message lists
    the suffixes it looks for, and the ``archives`` under it, which are not opened, with the
    line that unpacks the first)."""

    def __init__(self, folder: object, archives: Sequence[Path] = ()) -> None:
        reason = f"no image file ({', '.join(IMAGE_SUFFIXES)}) under it"
        if archives:
            from dwelltime.tables import few

            unpack = unpack_command(min(archives)) + (", …" if len(archives) > 1 else "")
            reason += (
                f", only {len(archives)} archive(s), not opened: "
                f"{few(sorted(p.name for p in archives))}; unpack each in its folder "
                f"({unpack}) and give the folder again"
            )
        super().__init__(folder, reason)


#: Why a file whose header opens cannot be used when reading its pixels fails: a download or
#: copy cut short (a COG's overviews may still read, its full resolution not).
UNREADABLE_PIXELS = (
    "pixel data cannot be read (truncated or corrupt file): download or copy it again"
)


class UnknownAirportError(DwelltimeError):
    """An ICAO/IATA code that the airport registry does not know."""


class UnknownTypeError(DwelltimeError):
    """An aircraft type designator that the catalog does not know: ``text`` as given and
    ``close``, the catalog's designators spelled like it."""

    def __init__(self, text: object, close: list[str], catalog_size: int) -> None:
        self.text = text
        self.close = close
        hint = self.hint or f"the catalog holds {catalog_size}"
        super().__init__(
            f"{text!r} is not an aircraft type of the catalog ({hint}); give an ICAO designator "
            "such as IL62, or unknown"
        )

    @property
    def hint(self) -> str:
        """``did you mean IL62 or IL96?``, or "" when no designator is spelled like it."""
        return f"did you mean {' or '.join(self.close)}?" if self.close else ""


class ApronError(DwelltimeError):
    """An apron file that cannot be read or holds no usable polygons."""


class WeightsError(DwelltimeError):
    """Detector weights missing, corrupt (sha256 mismatch) or incompatible with the code."""


class SettingsError(DwelltimeError, ValueError):
    """A detector setting this machine or these weights cannot honour: a device torch does not
    know or does not have, a precision that cannot run here; a tile size or batch size that
    is not a whole number (:func:`dwelltime.pipeline.check_tiling`); a link rule out of range
    or unknown (:class:`dwelltime.linking.LinkConfig`); an output format dwelltime does not
    write (:func:`dwelltime.io.check_formats`, :func:`dwelltime.formats.check_figure_format`)."""


class ResultError(DwelltimeError, ValueError):
    """A saved result or layer that cannot be read back (:func:`dwelltime.pipeline.read_result`,
    :func:`dwelltime.io.read_layer`): a file dwelltime did not write, a layer it lacks."""


class ResultNotFoundError(DwelltimeError, FileNotFoundError):
    """No saved result or layer where one was looked for: the folder or file is missing, or
    holds no layer dwelltime wrote."""


class LabelError(DwelltimeError):
    """A label file (DOTA txt or GeoJSON) that cannot be parsed."""


class DetectionsError(DwelltimeError):
    """Saved detections that cannot be scored: columns missing, or none of them on the
    labelled images."""


class OutputExistsError(DwelltimeError):
    """An output would be overwritten: ``path``, and ``switch``, what allows it
    (``overwrite=True`` in the API; the CLI says ``--overwrite``: :meth:`with_switch`)."""

    def __init__(self, path: object, switch: str = "overwrite=True") -> None:
        self.path = str(path)
        self.switch = switch
        super().__init__(f"{self.path} already exists; pass {switch} to replace it")

    def with_switch(self, switch: str) -> OutputExistsError:
        """The same error, naming ``switch`` (e.g. ``--overwrite``) as what allows it."""
        return OutputExistsError(self.path, switch)


class OutputFolderError(DwelltimeError):
    """An output folder that cannot be made or written to (a file in its path, no
    permission, a read-only disk)."""


def error_text(exc: BaseException) -> str:
    """An exception in one line, as a failed scene records it: ``Type: message``."""
    return f"{type(exc).__name__}: {exc}"

"""The ``dwelltime`` command: a thin click layer over the Python API.

Each command lives in its own module and imports heavy libraries (torch, rasterio, geopandas)
inside the command body, so ``dwelltime --help`` stays fast. Exit codes: 0 success, 1 the run
failed (or finished with failed inputs under ``--strict``), 2 usage error, 130 interrupted
(Ctrl-C). Output piped into a reader that stops early (``| head``) does not stop a command:
the rest of its output is dropped, its files are still written (:class:`PipeGuard`).
"""

from __future__ import annotations

import codecs
import importlib
import io
import logging
import os
import sys
from typing import TextIO

import click

from dwelltime import __version__

#: command name -> "module:function" (imported only when the command runs or help is shown)
COMMANDS: dict[str, str] = {
    "scan": "dwelltime.cli.scan:scan",
    "run": "dwelltime.cli.run:run",
    "demo": "dwelltime.cli.demo:demo",
    "synth": "dwelltime.cli.synth:synth",
    "detect": "dwelltime.cli.detect:detect",
    "link": "dwelltime.cli.link:link",
    "evaluate": "dwelltime.cli.evaluate:evaluate",
    "evaluate-dwell": "dwelltime.cli.evaluate_dwell:evaluate_dwell",
    "batch": "dwelltime.cli.batch:batch",
}


#: The console handler :func:`configure_logging` adds when the root logger has none.
_CONSOLE = logging.StreamHandler()
_CONSOLE.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def configure_logging(verbosity: int) -> None:
    """On the console -q → warnings only, default → info, -v → debug. The ``dwelltime``
    logger passes info at least whatever the console shows, so the log file a command writes
    (``dwelltime batch``) is complete with -q too."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    if not root.handlers:  # else someone (a notebook, pytest) configured logging already
        root.addHandler(_CONSOLE)
        root.setLevel(logging.WARNING)
    from dwelltime.cli.progress import BarSafeStream

    # the guarded stream (PipeGuard) main installs; a log line wipes a bar drawn there first
    _CONSOLE.setStream(BarSafeStream(sys.stderr))
    _CONSOLE.setLevel(level)
    logging.getLogger("dwelltime").setLevel(min(level, logging.INFO))


#: ASCII stand-ins for the glyphs the commands print (≥ in the stays table, → in its heading…).
ASCII_GLYPHS: dict[str, str] = {
    "≥": ">=",
    "≤": "<=",
    "→": "->",
    "–": "-",
    "—": "-",
    "−": "-",
    "…": "...",
    "×": "x",
    "·": "-",
}
#: Codec error handler that writes :data:`ASCII_GLYPHS` (``?`` for other characters).
GLYPH_ERRORS = "dwelltime-glyphs"


def _ascii_glyphs(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ASCII_GLYPHS.get(c, "?") for c in text), error.end


codecs.register_error(GLYPH_ERRORS, _ascii_glyphs)


def plain_glyphs() -> None:
    """Let stdout and stderr write a character their encoding lacks (Windows cp1252 output
    redirected to a file has no ``≥``) as its :data:`ASCII_GLYPHS` stand-in, instead of
    failing with UnicodeEncodeError; streams set to other than strict errors are kept."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors=GLYPH_ERRORS)


class PipeGuard:
    """A standard stream that outlives its reader: once the pipe it writes into is closed
    (``dwelltime scan IMAGES --out DIR | head -1``), its file descriptor is pointed at
    ``os.devnull`` and what is written is dropped, so the command goes on and writes its files
    (click alone would stop it with status 1, the files unwritten). Everything else is the
    wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        """Point the stream's file descriptor at os.devnull: its buffered text and all that
        follows, the interpreter's last flush at exit included, go there without an error."""
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # no file descriptor (a test's stream): drop each write
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def guard_pipes() -> None:
    """Wrap stdout and stderr in a :class:`PipeGuard` (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, PipeGuard):
            setattr(sys, name, PipeGuard(stream))


#: Commands that keep their finished work when interrupted and go on from it when run again:
#: what the line printed on Ctrl-C says is kept.
RESUMABLE = {
    "batch": "the finished scenes are kept: run it again to go on where it stopped",
}
#: ``ctx.meta`` key (shared by the group's and the command's contexts) of what the Ctrl-C line
#: says is kept, set by a command where that depends on its options (``run``: its ``--out``).
KEPT = "dwelltime.kept"
#: Exit status of a command interrupted by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, and which turns Ctrl-C into one
    line saying what is kept, and exit status :data:`INTERRUPTED`."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            command = ctx.invoked_subcommand
            kept = ctx.meta.get(KEPT) or RESUMABLE.get(
                command or "",
                "the work not yet written is lost: run it again to start over "
                "(`dwelltime batch`, `run --out` and `detect --out` keep each finished scene)",
            )
            click.echo(f"dwelltime {command}: interrupted; {kept}", err=True)
            ctx.exit(INTERRUPTED)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attr)
        with_verbosity_options(command)
        return command


VERBOSE_HELP = "Debug log output of each stage (not only info)."
QUIET_HELP = "Only warnings and errors; no progress bars."


def set_verbosity(ctx: click.Context, *, quiet: bool = False, verbose: int = 0) -> None:
    """Log and draw as -q (``quiet``, which wins) and -v (``verbose``) say, given before the
    command name or after it, in the root context's ``obj`` (``quiet``, ``verbosity``)."""
    obj = ctx.find_root().ensure_object(dict)
    obj["quiet"] = quiet = quiet or obj.get("quiet", False)
    obj["verbosity"] = -1 if quiet else max(verbose, obj.get("verbosity", 0))
    configure_logging(obj["verbosity"])


def _given_after(ctx: click.Context, param: click.Parameter, value: int | bool) -> None:
    if value:
        set_verbosity(ctx, **{param.name or "": value})


def with_verbosity_options(command: click.Command) -> None:
    """Give ``command`` (and a group's commands) -q and -v of their own, so that ``dwelltime
    run … -q`` is ``dwelltime -q run …``, not "No such option: -q" (once)."""
    if not any(param.name == "quiet" for param in command.params):
        command.params += [
            click.Option(["-v", "--verbose"], count=True, expose_value=False,
                         callback=_given_after, help=VERBOSE_HELP),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False,
                         callback=_given_after, help=QUIET_HELP),
        ]  # fmt: skip
    for sub in getattr(command, "commands", {}).values():
        with_verbosity_options(sub)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", "verbose", count=True, help=VERBOSE_HELP)
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
@click.version_option(__version__, prog_name="dwelltime")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Estimate how long aircraft stayed on the ground from a folder of satellite images.

    \b
    Typical use:
      dwelltime demo --out demo_out          # synthetic Sunan series, end to end
      dwelltime scan IMAGES/                  # what is in a folder of imagery
      dwelltime run IMAGES/ --airport ZKPY --type IL62 --out results/
    """
    plain_glyphs()
    guard_pipes()
    ctx.obj = {}
    set_verbosity(ctx, quiet=quiet, verbose=verbose)

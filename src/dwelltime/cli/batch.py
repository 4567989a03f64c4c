"""``dwelltime batch``: many airports × dates from one YAML job file, resumable."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from dwelltime.cli.options import UserPath, click_error, quiet, weights_option

log = logging.getLogger(__name__)


def _to_file(handler: logging.Handler, level: int, message: str) -> None:
    """``message`` in the job's log file alone: why the job stopped, which the console says
    in its own words."""
    handler.handle(log.makeRecord(log.name, level, __file__, 0, message, None, None))


class JobFileError(click.ClickException):
    """A job file that does not describe a job: one line ``Error: JOB.yaml: …``, exit 2."""

    exit_code = 2


@click.command()
@click.argument("job_file", type=UserPath(exists=True, dir_okay=False))
@click.option(
    "--scheduler",
    default=None,
    help='Run the per-scene work on Dask: "local" (a LocalCluster on this machine) or the '
    "address of a running scheduler (tcp://host:8786). Overrides the job file.",
)
@click.option("--retry-failed", is_flag=True, help="Try again the scenes that failed before.")
@weights_option
@click.pass_context
def batch(
    ctx: click.Context,
    job_file: Path,
    scheduler: str | None,
    retry_failed: bool,
    weights: Path | None,
) -> None:
    """Run the job described in JOB_FILE (YAML) over many airports and dates.

    \b
    output: results/
    device: auto          # or cpu, cuda
    batch_size: 16        # tiles per forward pass
    tile_size_px: 512     # tile edge, pixels at the detector's 0.5 m (1024 on a GPU)
    workers: 2            # reader processes (at most one per CPU)
    finishers: 2          # post-processing processes (default: 2 on CUDA, else a thread)
    scheduler: local      # run the scenes on Dask, or tcp://host:8786 (as --scheduler)
    compile: false        # torch.compile the network (GPU jobs)
    precision: auto       # auto | bf16 | fp32 | int8 (auto: bf16 on CUDA and on CPUs with
                          # native bf16, else int8 on x86 CPUs; fp32 with compile there)
    formats: [gpkg, csv]  # also geojson, parquet
    figure_format: png    # or svg, pdf (vector, for print)
    flights: adsb.csv     # flight-tracking CSV (as run --flights) for jobs without their own
    link: {max_gap_h: 96} # linking rules (LinkConfig fields), as run's --max-gap etc.
    jobs:
      - {airport: ZKPY, imagery: sunan/, aprons: sunan_aprons.geojson, type: IL62}
      - {airport: UUWW, imagery: vnukovo/, flights: vnukovo_movements.csv,
         times: vnukovo_times.csv}   # acquisition times, as run --times
      - {airport: UUEE, imagery: archive/, start: 2023-01-01, end: 2023-12-31}  # 2023 only

    Each scene's results are committed as soon as it is done, so a killed job started again
    skips the finished scenes; a finished scene whose image file changed since, or that other
    weights, precision or tile size made, is detected again (the log names it). Per airport the
    outputs of `dwelltime run` go to OUTPUT/<airport>/, the stays of every airport to
    OUTPUT/all_stays.csv (lon/lat geometry; x/y in each airport's UTM CRS, named in its xy_crs
    column), the log to OUTPUT/batch.log. Every job's inputs are read before the model loads: a
    job whose imagery, aprons, flights or times file cannot be read, or with no usable scene
    (an empty folder, only unusable files), is logged in one line and not run (its earlier
    outputs and stays stay), and the other jobs run. Files the scan
    cannot use (unreadable, no time…) are named in the log and the summary as unusable and
    skipped. A scene that fails in detection is recorded in
    OUTPUT/<airport>/parts/<scene>.failed.json and tried again with --retry-failed.

    One job at a time writes to an output folder: a second one started there stops at once.

    Exit status: 0 every job run and no scene failed (unusable files allowed), 1 a job not
    run (inputs unreadable or no usable scene), a scene failed, another job is writing to
    the output folder or the Dask scheduler cannot be reached, 2 bad job file (unreadable
    YAML, unknown keys, no jobs).
    """
    import dataclasses

    from dwelltime.batch.runner import run_batch
    from dwelltime.batch.spec import JobSpecError, load_spec
    from dwelltime.cli.progress import progress_bar
    from dwelltime.errors import DwelltimeError

    try:
        spec = load_spec(job_file)
    except JobSpecError as exc:
        raise JobFileError(str(exc)) from exc
    if scheduler:
        spec = dataclasses.replace(spec, scheduler=scheduler)
    try:
        spec.output.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(spec.output / "batch.log")
    except OSError as exc:  # a file of that name, no permission…
        problem = f"cannot write in {spec.output}: {exc.strerror}"
        raise JobFileError(f"{job_file}: output: {problem}") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("dwelltime").addHandler(handler)
    log.info("job %s; the log: %s", job_file, spec.output / "batch.log")
    bar = progress_bar(ctx, total=0, unit="scene", desc="batch")

    def progress(airport: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(airport)
        bar.update(done - bar.n)

    try:
        summary = run_batch(spec, retry_failed=retry_failed, weights=weights, progress=progress)
    except DwelltimeError as exc:
        _to_file(handler, logging.ERROR, f"job stopped: {exc}")
        raise click_error(exc) from exc
    except KeyboardInterrupt:
        _to_file(handler, logging.WARNING, "interrupted; the finished scenes are kept")
        raise
    finally:
        bar.close()
        logging.getLogger("dwelltime").removeHandler(handler)
        handler.close()
    if quiet(ctx):
        click.echo(summary.text())  # else the job's log line showed it
    if summary.failed:
        ctx.exit(1)

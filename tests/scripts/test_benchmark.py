"""scripts/benchmark.py --pipeline on a tiny rendered scene: the job as the GPU runs time it."""

from __future__ import annotations


def test_a_job_without_tables_runs_every_scene_and_times_its_stages(script, tmp_path):
    """``--no-tables`` (the GPU runs' setting) stands in for linking and the report: the
    stand-in must take what the job passes to ``link_scenes``."""
    bench = script("benchmark")
    args = bench.build_parser().parse_args(["--pipeline", "--no-tables", "--cpu-batch", "4"])
    source = bench.synth_imagery(tmp_path, scenes=1, copies=1, extent_m=300.0)
    wall, scenes, tiles, totals = bench.run_job(args, source, "cpu", tile=256, workers=0)
    assert scenes == 2 and tiles > 0 and wall > 0
    assert totals["infer"] > 0 and totals["setup"] > 0

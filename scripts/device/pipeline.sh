#!/bin/bash
# The batch job's benchmark on a lent GPU (issue #6), as run in session 4 (run 2), once per
# number of finisher processes in FINISHERS (0: post-processing on a thread, as in session 4),
# CUDA_BATCH tiles a batch (64: a scene's 49 tiles in one batch, padded to 64 when compiled),
# COPIES links of the 2 rendered scenes (24: 50 scenes, 2,450 tiles); FINISHERS="2 2" runs it
# twice (the second run's files end in _r2):
#   device run: FINISHERS="0 2 4" NETWORKS=compiled bash scripts/device/pipeline.sh
#   carry: .geo .whl    (then scripts/bench_finishers.py; FINISHER_CHECK=0 skips it)
# TESTS="tests/..." first runs those test files with pytest (the needs_cuda tests run there).
# PROFILE=1 (carry .spy too) records each run with py-spy, every process of the job (readers
# and finishers too), into $OUT/profile_*.json.gz with $OUT/profile_*.txt, what
# scripts/profile_summary.py says of the scene loop, the pinning thread, the readers and the
# finishers. Setup is skipped when an earlier call in the same command did it.
export PYTHONUNBUFFERED=1
t0=$(date +%s)
if [ ! -d /tmp/site/whl ]; then
  mkdir -p /tmp/site && tar xJf .geo/geo.tar.xz -C /tmp/site || exit 3
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site/whl .whl/*.whl $(ls .spy/*.whl 2>/dev/null) || exit 4
fi
export PYTHONPATH=$PWD/src:/tmp/site/rasterio:/tmp/site/pyproj:/tmp/site/geopandas:/tmp/site/whl
nvidia-smi --query-gpu=name --format=csv,noheader; nproc
echo "setup $(( $(date +%s) - t0 )) s"
if [ -n "${TESTS:-}" ]; then
  timeout 300 python3 -m pytest -q -p no:cacheprovider $TESTS 2>&1 | tee "$OUT"/tests.txt
fi
for f in ${FINISHERS:-2}; do
  run=f"$f"_b"${CUDA_BATCH:-64}"_c"${COPIES:-24}" && [ "${PROFILE:-0}" = 1 ] && run="$run"_profiled
  n=2 && while [ -e "$OUT"/pipeline_gpu_"$run".json ]; do run="${run%_r*}"_r$n; n=$((n + 1)); done
  # PROFILE=1: py-spy samples every thread of every process of the run
  spy=() && [ "${PROFILE:-0}" = 1 ] && spy=(/tmp/site/whl/bin/py-spy record --idle --subprocesses \
    --rate 100 --format speedscope -o /tmp/profile_"$run".json --)
  timeout -s INT -k 20 "${LIMIT:-170}" "${spy[@]}" python3 scripts/benchmark.py --pipeline --devices cuda --tiles 1024 \
    --scenes 2 --copies "${COPIES:-24}" --workers 14 --threads 4 --cuda-batch "${CUDA_BATCH:-64}" \
    --no-tables --modes ${MODES:-overlapped} --networks ${NETWORKS:-eager compiled} --finishers "$f" \
    --out "$OUT"/pipeline_gpu_"$run".json 2>&1 | grep -v Warning | tee "$OUT"/pipeline_gpu_"$run".txt
  if [ -f /tmp/profile_"$run".json ]; then
    for w in _local_scenes _pin_memory_loop read_payload _finish_scene; do
      python3 scripts/profile_summary.py /tmp/profile_"$run".json --within "$w" --top 20
    done > "$OUT"/profile_"$run".txt
    gzip -c /tmp/profile_"$run".json > "$OUT"/profile_"$run".json.gz
  fi
done
# the main thread's torch calls beside the finisher on a thread and in processes (about 30 s)
[ "${FINISHER_CHECK:-1}" = 1 ] && timeout 120 python3 scripts/bench_finishers.py \
  --processes 1 2 4 2>&1 | grep -v Warning | tee "$OUT"/bench_finishers.txt
echo "all done $(( $(date +%s) - t0 )) s"

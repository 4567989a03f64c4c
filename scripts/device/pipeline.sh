#!/bin/bash
# The batch job's benchmark on a lent GPU (issue #6), as run in session 4 (run 2), once per
# number of finisher processes in FINISHERS (0: post-processing on a thread, as in session 4),
# CUDA_BATCH tiles a batch (64: a scene's 49 tiles in one batch, padded to 64 when compiled),
# COPIES links of the 2 rendered scenes (24: 50 scenes, 2,450 tiles):
#   device run: FINISHERS="0 2 4" NETWORKS=compiled bash scripts/device/pipeline.sh
#   carry: .geo .whl    (then scripts/bench_finishers.py; FINISHER_CHECK=0 skips it)
# PROFILE=1 (carry .spy too) records each run with py-spy into $OUT/profile_*.json.
export PYTHONUNBUFFERED=1
t0=$(date +%s)
mkdir -p /tmp/site && tar xJf .geo/geo.tar.xz -C /tmp/site || exit 3
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site/whl .whl/*.whl $(ls .spy/*.whl 2>/dev/null) || exit 4
export PYTHONPATH=$PWD/src:/tmp/site/rasterio:/tmp/site/pyproj:/tmp/site/geopandas:/tmp/site/whl
nvidia-smi --query-gpu=name --format=csv,noheader; nproc
echo "setup $(( $(date +%s) - t0 )) s"
for f in ${FINISHERS:-2}; do
  # PROFILE=1: py-spy samples every thread of the run (scripts/profile_summary.py reads it)
  spy=() && [ "${PROFILE:-0}" = 1 ] && spy=(/tmp/site/whl/bin/py-spy record --idle --rate 100 \
    --format speedscope -o "$OUT"/profile_f"$f"_b"${CUDA_BATCH:-64}".json --)
  timeout "${LIMIT:-170}" "${spy[@]}" python3 scripts/benchmark.py --pipeline --devices cuda --tiles 1024 \
    --scenes 2 --copies "${COPIES:-24}" --workers 14 --threads 4 --cuda-batch "${CUDA_BATCH:-64}" \
    --no-tables --modes ${MODES:-overlapped} --networks ${NETWORKS:-eager compiled} --finishers "$f" \
    --out "$OUT"/pipeline_gpu_f"$f"_b"${CUDA_BATCH:-64}".json 2>&1 | grep -v Warning \
    | tee "$OUT"/pipeline_gpu_f"$f"_b"${CUDA_BATCH:-64}".txt
done
# the main thread's torch calls beside the finisher on a thread and in processes (about 30 s)
[ "${FINISHER_CHECK:-1}" = 1 ] && timeout 120 python3 scripts/bench_finishers.py \
  --processes 1 2 4 2>&1 | grep -v Warning | tee "$OUT"/bench_finishers.txt
echo "all done $(( $(date +%s) - t0 )) s"

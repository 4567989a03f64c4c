#!/bin/bash
# Build the ignored folders a lent GPU machine needs (it has torch but no rasterio, and no
# registry): .whl/ (small wheels installed there with pip --target), .spy/ (py-spy's wheel,
# for PROFILE=1), .geo/geo.tar.xz (rasterio, pyproj and geopandas unpacked for CPython 3.12),
# gpu_data/airbus_dev (the Airbus training sites only; the validation sites are scored here
# afterwards). Run from the repository root.
set -euo pipefail
AIRBUS=${AIRBUS:-/work/shared/data/real/airbus_dev}
get() {  # wheels for the GPU machine's CPython 3.12 on x86-64 Linux
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$@"
}
rm -rf .whl .spy .geo/stage && mkdir -p .whl .spy .geo/stage
get .whl affine==3.0.1 airportsdata==20260905 click-plugins==1.1.1.2 cligj==0.7.2 shapely==2.2.0
get .spy --platform manylinux1_x86_64 py-spy==0.4.3  # a sampling profiler (PROFILE=1)
for spec in rasterio==1.4.4 pyproj==3.7.2 geopandas==1.2.0; do
  name=${spec%%=*}
  get .geo/stage/wheels "$spec"
  python3 -m zipfile -e .geo/stage/wheels/"$name"-*.whl .geo/stage/"$name"
done
tar cJf .geo/geo.tar.xz -C .geo/stage rasterio pyproj geopandas
rm -rf .geo/stage
rm -rf gpu_data/airbus_dev && mkdir -p gpu_data/airbus_dev/images
cp "$AIRBUS"/annotations.csv "$AIRBUS"/sites.csv gpu_data/airbus_dev/
python3 - "$AIRBUS" <<'PY'
import csv, shutil, sys
root = sys.argv[1]
held_out = {"S03", "S13", "S21"}  # dwelltime.detector.datasets.AIRBUS_VALIDATION_SITES
for row in csv.DictReader(open(f"{root}/sites.csv")):
    if row["site_id"] not in held_out:
        shutil.copy(f"{root}/images/{row['image']}", "gpu_data/airbus_dev/images/")
PY
du -sh .whl .spy .geo/geo.tar.xz gpu_data

"""Shared fixtures: tiny georeferenced GeoTIFFs written on the fly.

``write_raster(path, ...)`` writes one GeoTIFF and returns its path. Defaults: a 3-band uint8
64 × 64 image at 0.5 m in UTM 51N (EPSG:32651) whose upper-left corner is at Pyongyang Sunan's
reference point. Pass ``crs=None`` for an image without a CRS, ``gsd`` in CRS units (degrees for
EPSG:4326), ``data`` to set pixel values, ``tags`` for GDAL metadata (e.g. ``TIFFTAG_DATETIME``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

#: Pyongyang Sunan (ZKPY) reference point: (lon, lat) degrees and UTM 51N (x, y) metres.
SUNAN_LONLAT: tuple[float, float] = (125.67, 39.2241)
SUNAN_UTM51N: tuple[float, float] = (730_485.78, 4_345_043.01)


def make_data(shape: tuple[int, int], count: int, dtype: str, seed: int = 0) -> np.ndarray:
    """Deterministic textured pixels (count, rows, cols): a ramp plus noise, in range of dtype."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    top = 255 if np.dtype(dtype) == np.uint8 else 4000
    ramp = np.add.outer(np.arange(rows), np.arange(cols)) / max(rows + cols - 2, 1)
    bands = [ramp * top * 0.8 + rng.uniform(0, top * 0.2, shape) for _ in range(count)]
    return np.stack(bands).astype(dtype)


def _write_raster(
    path: Path,
    *,
    crs: str | None = "EPSG:32651",
    origin: tuple[float, float] = SUNAN_UTM51N,
    gsd: float | tuple[float, float] = 0.5,
    shape: tuple[int, int] = (64, 64),
    count: int = 3,
    dtype: str = "uint8",
    nodata: float | None = None,
    data: np.ndarray | None = None,
    tags: Mapping[str, str] | None = None,
    colorinterp: Sequence[str] | None = None,
    descriptions: Sequence[str] | None = None,
    seed: int = 0,
    driver: str = "GTiff",
    options: Mapping[str, str] | None = None,
) -> Path:
    import rasterio
    from rasterio.enums import ColorInterp
    from rasterio.transform import from_origin

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gx, gy = (gsd, gsd) if isinstance(gsd, (int, float)) else gsd
    if data is None:
        data = make_data(shape, count, dtype, seed)
    data = np.asarray(data, dtype=dtype).reshape(count, *shape)
    profile: dict[str, Any] = {
        "driver": driver,
        **(options or {}),
        "width": shape[1],
        "height": shape[0],
        "count": count,
        "dtype": dtype,
        "transform": from_origin(origin[0], origin[1], gx, gy),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
        if colorinterp:
            dst.colorinterp = [ColorInterp[c] for c in colorinterp]
        if descriptions:
            for i, d in enumerate(descriptions, start=1):
                dst.set_band_description(i, d)
    return path


@pytest.fixture
def write_raster() -> Callable[..., Path]:
    """Factory writing a small GeoTIFF: ``write_raster(path, crs=, origin=, gsd=, shape=, ...)``
    (another GDAL format with ``driver=`` and its creation ``options=``)."""
    return _write_raster


def _write_vrt(path: Path, sources: Sequence[Path]) -> Path:
    """A GDAL virtual raster mosaicking ``sources`` (north-up GeoTIFFs of one CRS, pixel size
    and band count), as ``gdalbuildvrt path sources…`` writes it; sources named relative to it."""
    from xml.sax.saxutils import escape

    import rasterio
    from affine import Affine

    metas = []
    for src in sources:
        with rasterio.open(src) as ds:
            metas.append((Path(src), ds.transform, ds.width, ds.height, ds.count, ds.crs))
    t0, count, crs = metas[0][1], metas[0][4], metas[0][5]
    west = min(t.c for _, t, *_ in metas)
    north = max(t.f for _, t, *_ in metas)
    east = max(t.c + w * t.a for _, t, w, *_ in metas)
    south = min(t.f + h * t.e for _, t, _, h, *_ in metas)
    width, height = round((east - west) / t0.a), round((south - north) / t0.e)
    transform = Affine(t0.a, 0.0, west, 0.0, t0.e, north)
    bands = []
    for band in range(1, count + 1):
        simple = "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="1">{src.name}</SourceFilename>'
            f"<SourceBand>{band}</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
            f'<DstRect xOff="{round((t.c - west) / t0.a)}" yOff="{round((t.f - north) / t0.e)}" '
            f'xSize="{w}" ySize="{h}"/></SimpleSource>'
            for src, t, w, h, *_ in metas
        )
        bands.append(f'<VRTRasterBand dataType="Byte" band="{band}">{simple}</VRTRasterBand>')
    gdal_transform = ", ".join(repr(v) for v in transform.to_gdal())
    Path(path).write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{escape(crs.to_wkt())}</SRS><GeoTransform>{gdal_transform}</GeoTransform>"
        f"{''.join(bands)}</VRTDataset>"
    )
    return Path(path)


@pytest.fixture
def write_vrt() -> Callable[..., Path]:
    """Factory writing a mosaic VRT of uint8 GeoTIFFs beside it: ``write_vrt(path, sources)``."""
    return _write_vrt


DIMAP_NAME = "DIM_PHR1A_PMS_202307310235125_ORT_1234567101-001.XML"


def _write_dimap(folder: Path, when: str = "02:35:12.5Z", **tile_kwargs: Any) -> Path:
    """An Airbus DIMAP v2 ortho product as delivered: two 32 x 32 px tiles side by side
    (R1C1, R1C2, 0.5 m, UTM 51N) and the ``DIM_*.XML`` describing them, its strip imaged at
    2023-07-31 ``when``."""
    x0, y0 = 730_485.0, 4_345_043.0
    for col in (1, 2):
        _write_raster(
            folder / f"IMG_PHR1A_PMS_001_R1C{col}.TIF",
            origin=(x0 + (col - 1) * 16, y0),
            shape=(32, 32),
            **tile_kwargs,
        )
    files = "".join(
        f'<Data_File tile_R="1" tile_C="{col}">'
        f'<DATA_FILE_PATH href="IMG_PHR1A_PMS_001_R1C{col}.TIF"/></Data_File>'
        for col in (1, 2)
    )
    (folder / DIMAP_NAME).write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document name="{DIMAP_NAME}">
 <Metadata_Identification><METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>
  <METADATA_PROFILE>PHR_ORTHO</METADATA_PROFILE></Metadata_Identification>
 <Dataset_Sources><Source_Identification><Strip_Source>
  <MISSION>PHR</MISSION><MISSION_INDEX>1A</MISSION_INDEX>
  <IMAGING_DATE>2023-07-31</IMAGING_DATE><IMAGING_TIME>{when}</IMAGING_TIME>
 </Strip_Source></Source_Identification></Dataset_Sources>
 <Coordinate_Reference_System><Projected_CRS>
  <PROJECTED_CRS_CODE>urn:ogc:def:crs:EPSG::32651</PROJECTED_CRS_CODE>
 </Projected_CRS></Coordinate_Reference_System>
 <Geoposition><Geoposition_Insert><ULXMAP>{x0}</ULXMAP><ULYMAP>{y0}</ULYMAP>
  <XDIM>0.5</XDIM><YDIM>0.5</YDIM></Geoposition_Insert></Geoposition>
 <Raster_Data>
  <Data_Access><DATA_FILE_FORMAT>image/tiff</DATA_FILE_FORMAT>
   <Data_Files>{files}</Data_Files></Data_Access>
  <Raster_Dimensions><NROWS>32</NROWS><NCOLS>64</NCOLS><NBANDS>3</NBANDS>
   <Tile_Set><NTILES>2</NTILES><Regular_Tiling><NTILES_SIZE nrows="32" ncols="32"/>
    <NTILES_COUNT ntiles_R="1" ntiles_C="2"/><OVERLAP_ROW>0</OVERLAP_ROW>
    <OVERLAP_COL>0</OVERLAP_COL></Regular_Tiling></Tile_Set></Raster_Dimensions>
  <Raster_Encoding><DATA_TYPE>INTEGER</DATA_TYPE><NBITS>8</NBITS></Raster_Encoding>
 </Raster_Data>
</Dimap_Document>
"""
    )
    return folder / DIMAP_NAME


@pytest.fixture
def write_dimap() -> Callable[..., Path]:
    """Factory writing an Airbus DIMAP v2 product: ``write_dimap(folder, when=, **tile_kwargs)``
    gives its ``DIM_*.XML`` (tiles ``IMG_PHR1A_PMS_001_R1C1.TIF``, ``…R1C2.TIF`` beside it)."""
    return _write_dimap


def _write_cloud_gml(path: Path, polygons: Sequence[Sequence[tuple[float, float]]] = ()) -> Path:
    """An Airbus DIMAP cloud mask (``MASKS/CLD_*_MSK.GML``) of ``polygons`` (rings of (x, y)
    in UTM 51N); as Airbus delivers a clear scene's, with no feature when there are none."""
    members = "".join(
        f'<eop:MaskFeature gml:id="CLD_{n}"><eop:maskType>CLOUD</eop:maskType><eop:extentOf>'
        f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::32651" gml:id="P{n}"><gml:exterior>'
        f'<gml:LinearRing><gml:posList srsDimension="2">'
        f"{' '.join(f'{x} {y}' for x, y in [*ring, ring[0]])}"
        f"</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></eop:extentOf>"
        f"</eop:MaskFeature>"
        for n, ring in enumerate(polygons)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<eop:Mask xmlns:eop="http://earth.esa.int/eop"'
        ' xmlns:gml="http://www.opengis.net/gml" gml:id="CLD">'
        f"<eop:maskMembers>{members}</eop:maskMembers></eop:Mask>\n"
    )
    return path


@pytest.fixture
def write_cloud_gml() -> Callable[..., Path]:
    """Factory writing an Airbus cloud mask: ``write_cloud_gml(path, polygons=())``."""
    return _write_cloud_gml


def _write_cut_cog(path: Path, **raster_kwargs: Any) -> Path:
    """A 1024 × 1024 cloud-optimised GeoTIFF cut short, as an interrupted download leaves it:
    its header and overviews (stored first) read, its full-resolution tiles do not, so it
    passes a scan (a decimated read) and fails when tiled. ``raster_kwargs``: of write_raster."""
    from rasterio.shutil import copy

    path = Path(path)
    whole = _write_raster(path.with_name("whole_" + path.name), shape=(1024, 1024), **raster_kwargs)
    copy(whole, path, driver="COG", BLOCKSIZE="256", COMPRESS="DEFLATE")
    whole.unlink()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 7 // 10])
    return path


@pytest.fixture
def write_cut_cog() -> Callable[..., Path]:
    """Factory writing a truncated COG whose overviews still read: ``write_cut_cog(path, ...)``."""
    return _write_cut_cog


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless --runslow, and ``needs_cuda`` tests without a GPU."""
    import torch

    cuda = torch.cuda.is_available()
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(pytest.mark.skip(reason="slow: run with --runslow"))
        if "needs_cuda" in item.keywords and not cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered Sunan demo series (imagery/, aprons.geojson, truth/), once per session.

    Reused from ``$DWELLTIME_DEMO_DIR`` when that is set (rendered there on first use)."""
    import os

    from dwelltime.synth import make_sunan_demo

    cached = os.environ.get("DWELLTIME_DEMO_DIR")
    folder = Path(cached) if cached else tmp_path_factory.mktemp("sunan_demo")
    if not (folder / "truth" / "scenes.csv").exists():  # written last: a complete render
        make_sunan_demo(folder, seed=62)
    return folder


@pytest.fixture
def demo_subset(demo_dir: Path, tmp_path: Path) -> Callable[..., Path]:
    """Copy some demo scenes (with their sidecars and masks) into a fresh folder:
    ``demo_subset("zkpy_04", "zkpy_07")`` → the folder's path."""
    import shutil

    def make(*stems: str) -> Path:
        folder = tmp_path / "imagery"
        folder.mkdir(exist_ok=True)
        for path in (demo_dir / "imagery").iterdir():
            if path.name.startswith(stems):
                shutil.copy(path, folder / path.name)
        return folder

    return make


@pytest.fixture
def script() -> Iterator[Callable[[str], ModuleType]]:
    """Load ``scripts/<name>.py`` as a module (registered, so its worker processes can find
    its functions). Training scripts set the process's torch threads: they are restored
    afterwards, because later tests compare float outputs."""
    import importlib.util
    import sys

    import torch

    threads = torch.get_num_threads()
    scripts = Path(__file__).resolve().parents[1] / "scripts"

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, scripts / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    yield load
    torch.set_num_threads(threads)


@pytest.fixture
def fresh_python() -> Callable[[str], list[str]]:
    """Run Python ``code`` in a fresh interpreter (to see which modules an import loads) and
    return the words it printed."""
    import subprocess
    import sys

    def run(code: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return done.stdout.split()

    return run


#: A ``sitecustomize`` for a process killed in a test (spawned children run it too): its first
#: commit to a :class:`~dwelltime.store.SceneStore` completes, then the committing thread hangs,
#: so the kill lands with exactly one scene or image committed however fast the process runs.
HANG_AFTER_FIRST_COMMIT = """
import threading

from dwelltime.store import SceneStore

_commit = SceneStore.commit


def _commit_then_hang(self, *args, **kwargs):
    _commit(self, *args, **kwargs)
    threading.Event().wait()


SceneStore.commit = _commit_then_hang
"""


@pytest.fixture
def hang_after_first_commit() -> Callable[[Path], dict[str, str]]:
    """``env(folder)``: the environment of a process that hangs after its first commit
    (:data:`HANG_AFTER_FIRST_COMMIT`, written to ``folder`` and put on its PYTHONPATH)."""
    import os

    def env(folder: Path) -> dict[str, str]:
        folder.mkdir(parents=True)
        (folder / "sitecustomize.py").write_text(HANG_AFTER_FIRST_COMMIT)
        path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path}

    return env

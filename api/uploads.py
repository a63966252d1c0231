"""Receive uploaded files safely: size limits, and zip archives without traversal or bombs."""

from __future__ import annotations

import shutil
import zipfile
import zlib
from pathlib import Path

from fastapi import UploadFile

from geo.errors import InvalidInput

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
# Boundary files compress perhaps 10:1; far more is the shape of a zip bomb.
MAX_RATIO = 200
BOUNDARY_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")


def save_upload(upload: UploadFile, folder: Path, limit: int = MAX_UPLOAD_BYTES) -> Path:
    """Copy an upload into ``folder`` (under its base name only), refusing oversize files."""
    name = Path(upload.filename or "upload").name or "upload"
    target = folder / name
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise InvalidInput(
                    f"upload larger than {limit // 2**20} MiB; split the file or use the CLI",
                    f"上传文件超过 {limit // 2**20} MiB；请拆分文件或使用命令行导入",
                )
            out.write(chunk)
    return target


def unpack_if_zip(path: Path) -> Path:
    """For a .zip, extract it safely and return the boundary file inside."""
    if path.suffix.lower() != ".zip":
        return path
    dest = path.parent / "unzipped"
    dest.mkdir()
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InvalidInput(
            "the .zip file is damaged; zip the files again and upload the new archive",
            "zip 文件已损坏；请重新压缩后上传",
        ) from None
    with archive:
        total = 0
        for info in archive.infolist():
            parts = Path(info.filename).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts:
                raise InvalidInput(
                    f"unsafe path in archive: {info.filename}; put the files at the top of "
                    "the archive, without absolute or '..' paths",
                    f"压缩包内路径不安全：{info.filename}；请把文件放在压缩包根目录，"
                    "不要使用绝对路径或 '..'",
                )
            total += info.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise InvalidInput(
                    "archive expands beyond 1 GiB; split it or import it with the CLI",
                    "压缩包解压后超过 1 GiB；请拆分或使用命令行导入",
                )
            if info.file_size > 2**20 and info.file_size > MAX_RATIO * info.compress_size:
                raise InvalidInput(
                    f"{info.filename} in the archive expands {MAX_RATIO}+ times (a zip bomb?); "
                    "send the boundary files zipped normally",
                    f"压缩包内 {info.filename} 解压后膨胀超过 {MAX_RATIO} 倍（疑似压缩炸弹）；"
                    "请正常压缩边界文件后上传",
                )
        for info in archive.infolist():
            if info.is_dir():
                continue
            # Flatten: a shapefile's parts must sit side by side. Reads stop at the
            # declared size; a member that lies about it fails its CRC check.
            try:
                with archive.open(info) as src, open(dest / Path(info.filename).name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise InvalidInput(
                    f"the archive is damaged or forged ({exc}); zip the files again and upload",
                    f"压缩包已损坏或被篡改（{exc}）；请重新压缩后上传",
                ) from None
    found = sorted(p for p in dest.iterdir() if p.suffix.lower() in BOUNDARY_SUFFIXES)
    if not found:
        raise InvalidInput(
            "no .shp, .gpkg or .geojson inside the archive; add the boundary file and zip again",
            "压缩包内没有 .shp、.gpkg 或 .geojson 文件；请加入边界文件后重新压缩",
        )
    return found[0]

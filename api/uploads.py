"""Receive uploaded files safely: size limits, and zip archives without traversal or bombs."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from fastapi import UploadFile

from geo.errors import InvalidInput

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
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
        raise InvalidInput("the .zip file is damaged", "zip 文件已损坏") from None
    with archive:
        total = 0
        for info in archive.infolist():
            parts = Path(info.filename).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts:
                raise InvalidInput(
                    f"unsafe path in archive: {info.filename}",
                    f"压缩包内路径不安全：{info.filename}",
                )
            total += info.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise InvalidInput("archive expands beyond 1 GiB", "压缩包解压后超过 1 GiB")
        for info in archive.infolist():
            if info.is_dir():
                continue
            # Flatten: a shapefile's parts must sit side by side.
            with archive.open(info) as src, open(dest / Path(info.filename).name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    found = sorted(p for p in dest.iterdir() if p.suffix.lower() in BOUNDARY_SUFFIXES)
    if not found:
        raise InvalidInput(
            "no .shp, .gpkg or .geojson inside the archive",
            "压缩包内没有 .shp、.gpkg 或 .geojson 文件",
        )
    return found[0]


def parse_column_map(text: str | None) -> dict[str, str] | None:
    """``code=编码,name=名称,parent=上级编码`` → dict (``parent`` means parent_code)."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InvalidInput(
                f"--map entry {part!r} is not field=column", f"--map 项 {part!r} 应为 字段=列名"
            )
        field, col = (x.strip() for x in part.split("=", 1))
        field = {"parent": "parent_code"}.get(field, field)
        if field not in ("code", "name", "parent_code", "level"):
            raise InvalidInput(
                f"--map field {field!r} unknown; use code, name, parent or level",
                f"--map 字段 {field!r} 未知；可用 code、name、parent、level",
            )
        out[field] = col
    return out

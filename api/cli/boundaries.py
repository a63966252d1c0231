"""``gridmap import | fix | validate | publish | export | sets``: boundary sets (and
special grids, ``import --level special``) from the shell."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geo.errors import GridmapError
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store import registers
from geo.store.db import make_engine

from api.uploads import parse_column_map
from boundaries import fixes, sets, special_import
from boundaries.export import FORMATS, export_boundaries


def register(app: typer.Typer, console, fail) -> None:
    """Add the boundary commands to the ``gridmap`` app."""

    def _engine():
        return make_engine(Settings())

    def _print_findings(findings, limit: int = 30) -> None:
        errors = sum(f.severity == "error" for f in findings)
        console.print(f"{len(findings)} finding(s), {errors} error(s)")
        table = Table("severity", "type", "codes", "area m²", "message")
        for f in findings[:limit]:
            area = f"{f.area_m2:,.1f}" if f.area_m2 is not None else ""
            table.add_row(f.severity, f.type, " ".join(f.codes[:4]), area, f.message_zh)
        if findings:
            console.print(table)
        if len(findings) > limit:
            console.print(f"… {len(findings) - limit} more (use --json for all)")

    def _print_special(report) -> None:
        c = report.counts
        table = Table("code", "status", "changed")
        for r in report.rows:
            if r["status"] != "kept":
                table.add_row(r["code"], r["status"], ", ".join(r["changed"]))
        console.print(table)
        console.print(
            f"{c['new']} new 新增, {c['changed']} changed 变更, {c['unchanged']} unchanged 未变, "
            f"{c['retired']} retired 撤销, {c['kept']} live not in the file (kept 保留)"
        )
        for code, raw in report.unmapped_kinds.items():
            console.print(f"[yellow]{code}: kind {raw!r} not recognised → other 未识别类型[/]")
        if report.repaired:
            console.print(f"repaired geometry 已修复几何: {' '.join(report.repaired)}")

    @app.command("import")
    def import_cmd(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        level: Annotated[
            str | None, typer.Option(help="district|street|community|grid|special")
        ] = None,
        layer: Annotated[str | None, typer.Option(help="Layer of a GeoPackage")] = None,
        crs: Annotated[str | None, typer.Option(help="wgs84|gcj02|bd09|cgcs2000|EPSG:n")] = None,
        encoding: Annotated[str | None, typer.Option(help="e.g. GBK for old Shapefiles")] = None,
        map_: Annotated[
            str | None, typer.Option("--map", help="code=编码,name=名称,parent=上级编码")
        ] = None,
        name: Annotated[str | None, typer.Option(help="Name of the boundary set")] = None,
        author: Annotated[str, typer.Option(help="Who imports (recorded)")] = "cli",
        make_valid: Annotated[
            bool, typer.Option("--make-valid", help="Repair invalid geometry (reported)")
        ] = False,
        apply: Annotated[
            bool, typer.Option("--apply", help="--level special: write (default: report only)")
        ] = False,
        retire_missing: Annotated[
            bool,
            typer.Option("--retire-missing", help="--level special: close those not in the file"),
        ] = False,
        reason: Annotated[str | None, typer.Option(help="--level special: why (recorded)")] = None,
    ) -> None:
        """Import a boundary file as a DRAFT set and show its findings. Nothing live changes.

        With --level special: special grids (schools, hospitals …), checked whole and
        reported per code; written only with --apply.
        """
        engine = _engine()
        if level == "special":
            try:
                with engine.begin() as conn:
                    report = special_import.import_special_file(
                        conn,
                        file,
                        layer=layer,
                        crs=crs,
                        encoding=encoding,
                        column_map=special_import.parse_special_column_map(map_),
                        make_valid=make_valid,
                        retire_missing=retire_missing,
                        apply=apply,
                        author=author,
                        reason=reason,
                    )
            except GridmapError as exc:
                problems = exc.extra.get("problems") or []
                fail("\n".join([exc.message, exc.message_zh, *problems[:30]]))
            finally:
                engine.dispose()
            _print_special(report)
            if report.dry_run:
                console.print("dry run: nothing written 未写入；add --apply to write")
            else:
                console.print(f"[green]written 已写入: {len(report.versions)} version(s)[/]")
            return
        repaired: list[str] = []
        try:
            with engine.begin() as conn:
                console.print(f"· reading {file.name}")
                kwargs = {
                    "level": level,
                    "layer": layer,
                    "crs": crs,
                    "encoding": encoding,
                    "column_map": parse_column_map(map_),
                    "name": name,
                    "author": author,
                }
                if make_valid:
                    result, repaired = sets.import_file_made_valid(conn, file, **kwargs)
                else:
                    result = sets.import_file(conn, file, **kwargs)
                console.print("· validating")
                findings = sets.findings_for_set(conn, result.boundary_set_id)
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        finally:
            engine.dispose()
        what = "already imported as" if result.reused else "imported as draft"
        console.print(
            f"[green]{result.units} units {what} boundary set {result.boundary_set_id}[/]"
        )
        if repaired:
            console.print(f"repaired geometry 已修复几何: {' '.join(repaired)}")
        _print_findings(findings)
        console.print(f"next: gridmap publish {result.boundary_set_id} --author NAME --reason …")

    @app.command("fix")
    def fix_cmd(
        set_id: Annotated[int, typer.Argument(help="Draft boundary set id")],
        fix: Annotated[str, typer.Argument(help="snap | gap | overlap")],
        codes: Annotated[
            list[str],
            typer.Argument(help="snap: units; gap: parents; overlap: the two owners"),
        ],
        tolerance_m: Annotated[float, typer.Option(help="snap: metres the border may move")] = 1.0,
        author: Annotated[str, typer.Option(help="Who fixes (recorded)")] = "cli",
    ) -> None:
        """Apply a fix helper to a DRAFT set (never the live map); shows findings after."""
        if fix not in fixes.SHORT_NAMES and fix not in fixes.FIXES:
            fail(f"unknown fix {fix!r}; use snap, gap or overlap\n未知修复 {fix!r}")
        engine = _engine()
        try:
            with engine.begin() as conn:
                result = fixes.apply_fix(
                    conn, set_id, fix, codes, tolerance_m=tolerance_m, author=author
                )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        finally:
            engine.dispose()
        b, a = result.before, result.after
        console.print(
            f"[green]{result.fix}[/]: changed 已修改 {' '.join(result.changed) or '(none 无)'}; "
            f"errors 错误 {b['error']} → {a['error']}, "
            f"warnings 警告 {b['warning']} → {a['warning']}"
        )
        if result.unassigned_m2:
            console.print(f"{result.unassigned_m2:,.1f} m² of gap borders no unit 无相邻单元")
        _print_findings(result.findings)

    @app.command("validate")
    def validate_cmd(
        set_id: Annotated[
            int | None, typer.Argument(help="Boundary set id; omit: live map")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON")] = False,
        geojson: Annotated[Path | None, typer.Option(help="Also write findings as GeoJSON")] = None,
    ) -> None:
        """Check a draft set (or the live map) for topology and code problems."""
        from geo import topology

        engine = _engine()
        try:
            with engine.connect() as conn:
                findings = (
                    sets.findings_for_live(conn)
                    if set_id is None
                    else sets.findings_for_set(conn, set_id)
                )
        except GridmapError as exc:
            fail(exc.message)
        finally:
            engine.dispose()
        if geojson:
            geojson.write_text(
                json.dumps(topology.findings_to_geojson(findings), ensure_ascii=False)
            )
        if as_json:
            typer.echo(json.dumps(topology.findings_to_json(findings), ensure_ascii=False))
        else:
            _print_findings(findings)
        if any(f.severity == "error" for f in findings):
            raise typer.Exit(2)

    @app.command("publish")
    def publish_cmd(
        set_id: Annotated[int, typer.Argument(help="Draft boundary set id")],
        author: Annotated[str, typer.Option(help="Who publishes (recorded)")] = "cli",
        reason: Annotated[str | None, typer.Option(help="Why (recorded)")] = None,
        override_reason: Annotated[
            str | None, typer.Option(help="Publish despite error findings; recorded")
        ] = None,
    ) -> None:
        """Make a draft live: one transaction; only changed units get new versions."""
        engine = _engine()
        try:
            with engine.begin() as conn:
                result, _ = sets.publish(
                    conn, set_id, author=author, reason=reason, override_reason=override_reason
                )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        finally:
            engine.dispose()
        c = result.counts
        console.print(
            f"[green]published boundary set {set_id}[/]: {c['changed']} changed, {c['new']} new, "
            f"{c['removed']} retired, {c['unchanged']} unchanged (kept their versions)"
        )

    @app.command("export")
    def export_cmd(
        out: Annotated[Path, typer.Option(help="File (gpkg/geojson/csv) or folder (shp)")],
        format: Annotated[str, typer.Option(help="|".join(FORMATS))] = "gpkg",
        crs: Annotated[str | None, typer.Option(help="wgs84|gcj02|bd09|cgcs2000|EPSG:n")] = None,
        as_of: Annotated[
            datetime | None, typer.Option(help="The map as it was then (ISO date/time)")
        ] = None,
    ) -> None:
        """Write the live (or dated) boundaries and special grids to a file."""
        engine = _engine()
        try:
            with engine.connect() as conn:
                units = bstore.units_frame(conn, at=as_of)
                special = registers.special_grids_frame(conn, at=as_of)
            if units.empty:
                fail("no boundaries in force then; load or publish some first")
            written = export_boundaries(units, out, format, special=special, crs=crs)
        except GridmapError as exc:
            fail(exc.message)
        finally:
            engine.dispose()
        for path in written:
            console.print(f"wrote {path}")

    @app.command("sets")
    def sets_cmd() -> None:
        """List boundary sets (drafts, active, retired)."""
        engine = _engine()
        try:
            with engine.connect() as conn:
                rows = bstore.list_sets(conn)
        finally:
            engine.dispose()
        table = Table("id", "status", "units", "name", "author", "created", "activated")
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["status"],
                str(r["units"]),
                r["name"],
                r["author"],
                f"{r['created_at']:%Y-%m-%d %H:%M}",
                f"{r['activated_at']:%Y-%m-%d %H:%M}" if r["activated_at"] else "",
            )
        console.print(table)

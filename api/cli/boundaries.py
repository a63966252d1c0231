"""``gridmap import | fix | validate | publish | export | sets``: boundary sets (and
special grids, ``import --level special``) from the shell.

Files are read and written by :mod:`boundaries`; every command calls the same use
cases as the API (:mod:`geo.services.boundaries`, :mod:`~geo.services.fixes`,
:mod:`~geo.services.publish`, :mod:`~geo.services.special_edits`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from geo.errors import GridmapError
from geo.vocab import BOUNDARY_EXPORT_FORMATS

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from geo import topology

Fail = Callable[..., NoReturn]


@contextmanager
def _engine() -> Iterator[Engine]:
    from geo.settings import Settings
    from geo.store.db import make_engine

    engine = make_engine(Settings())
    try:
        yield engine
    finally:
        engine.dispose()


class _Show:
    """What the commands print for a person (on the console)."""

    def __init__(self, console: Any):
        self.console = console

    def findings(self, findings: list[topology.Finding], limit: int = 30) -> None:
        errors = sum(f.severity == "error" for f in findings)
        self.console.print(f"{len(findings)} finding(s), {errors} error(s)")
        table = Table("severity", "type", "codes", "area m²", "message")
        for f in findings[:limit]:
            area = f"{f.area_m2:,.1f}" if f.area_m2 is not None else ""
            table.add_row(f.severity, f.type, " ".join(f.codes[:4]), area, f.message_zh)
        if findings:
            self.console.print(table)
        if len(findings) > limit:
            self.console.print(f"… {len(findings) - limit} more (use --json for all)")

    def special(self, report: Any) -> None:
        c = report.counts
        table = Table("code", "status", "changed")
        for r in report.rows:
            if r["status"] != "kept":
                table.add_row(r["code"], r["status"], ", ".join(r["changed"]))
        self.console.print(table)
        self.console.print(
            f"{c['new']} new 新增, {c['changed']} changed 变更, {c['unchanged']} unchanged 未变, "
            f"{c['retired']} retired 撤销, {c['kept']} live not in the file (kept 保留)"
        )
        for code, raw in report.unmapped_kinds.items():
            self.console.print(f"[yellow]{code}: kind {raw!r} not recognised → other 未识别类型[/]")
        if report.repaired:
            self.console.print(f"repaired geometry 已修复几何: {' '.join(report.repaired)}")


def register(app: typer.Typer, console: Any, fail: Fail) -> None:
    """Add the boundary commands to the ``gridmap`` app."""
    show = _Show(console)
    _register_import(app, show, fail)
    _register_fix(app, show, fail)
    _register_validate(app, show, fail)
    _register_publish(app, show, fail)
    _register_export(app, show, fail)
    _register_sets(app, show)


def _import_special(show: _Show, fail: Fail, file: Path, **kw: Any) -> None:
    """``import --level special``: checked whole, reported per code, written on --apply."""
    from geo.services import policy, special_edits

    from boundaries import special_import

    options = {k: kw[k] for k in ("layer", "crs", "encoding", "make_valid")}
    try:
        incoming = special_import.read_special_file(
            file, column_map=special_import.parse_special_column_map(kw["map_"]), **options
        )
        with _engine() as engine:
            report = special_edits.import_special_grids(
                engine,
                incoming,
                who=policy.operator(),
                source=file.name,
                retire_missing=kw["retire_missing"],
                apply=kw["apply"],
                author=kw["author"],
                reason=kw["reason"],
            )
    except GridmapError as exc:
        problems = exc.extra.get("problems") or []
        fail("\n".join([exc.message, exc.message_zh, *problems[:30]]))
    show.special(report)
    if report.dry_run:
        show.console.print("dry run: nothing written 未写入；add --apply to write")
    else:
        show.console.print(f"[green]written 已写入: {len(report.versions)} version(s)[/]")


def _import_set(show: _Show, fail: Fail, file: Path, **kw: Any) -> None:
    """``import``: a boundary file as a DRAFT set, with its findings."""
    from geo.io.fieldmap import parse_boundary_map
    from geo.services import boundaries as uc
    from geo.services import policy

    from boundaries import sets

    try:
        show.console.print(f"· reading {file.name}")
        units, repaired = sets.read_units(
            file,
            level=kw["level"],
            layer=kw["layer"],
            crs=kw["crs"],
            encoding=kw["encoding"],
            column_map=parse_boundary_map(kw["map_"]),
            make_valid=kw["make_valid"],
        )
        show.console.print("· validating")
        with _engine() as engine:
            done = uc.import_boundary_set(
                engine,
                units,
                who=policy.operator(),
                name=kw["name"] or file.name,
                author=kw["author"],
                source=file.name,
                repaired=repaired,
            )
    except GridmapError as exc:
        fail(f"{exc.message}\n{exc.message_zh}")
    result = done.result
    what = "already imported as" if result.reused else "imported as draft"
    show.console.print(
        f"[green]{result.units} units {what} boundary set {result.boundary_set_id}[/]"
    )
    if done.repaired:
        show.console.print(f"repaired geometry 已修复几何: {' '.join(done.repaired)}")
    show.findings(done.findings)
    show.console.print(f"next: gridmap publish {result.boundary_set_id} --author NAME --reason …")


def _register_import(app: typer.Typer, show: _Show, fail: Fail) -> None:
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
        kw = {
            "level": level,
            "layer": layer,
            "crs": crs,
            "encoding": encoding,
            "map_": map_,
            "name": name,
            "author": author,
            "make_valid": make_valid,
            "apply": apply,
            "retire_missing": retire_missing,
            "reason": reason,
        }
        if level == "special":
            _import_special(show, fail, file, **kw)
        else:
            _import_set(show, fail, file, **kw)


def _register_fix(app: typer.Typer, show: _Show, fail: Fail) -> None:
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
        from geo.services import fixes, policy

        if fix not in fixes.SHORT_NAMES and fix not in fixes.FIXES:
            fail(f"unknown fix {fix!r}; use snap, gap or overlap\n未知修复 {fix!r}")
        try:
            with _engine() as engine:
                result = fixes.fix_draft(
                    engine,
                    set_id,
                    fix,
                    codes,
                    who=policy.operator(),
                    tolerance_m=tolerance_m,
                    author=author,
                )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        b, a = result.before, result.after
        show.console.print(
            f"[green]{result.fix}[/]: changed 已修改 {' '.join(result.changed) or '(none 无)'}; "
            f"errors 错误 {b['error']} → {a['error']}, "
            f"warnings 警告 {b['warning']} → {a['warning']}"
        )
        if result.unassigned_m2:
            show.console.print(f"{result.unassigned_m2:,.1f} m² of gap borders no unit 无相邻单元")
        show.findings(result.findings)


def _register_validate(app: typer.Typer, show: _Show, fail: Fail) -> None:
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
        from geo.services import boundaries as uc

        try:
            with _engine() as engine:
                findings = uc.set_findings(engine, set_id)
        except GridmapError as exc:
            fail(exc.message)
        if geojson:
            geojson.write_text(
                json.dumps(topology.findings_to_geojson(findings), ensure_ascii=False)
            )
        if as_json:
            typer.echo(json.dumps(topology.findings_to_json(findings), ensure_ascii=False))
        else:
            show.findings(findings)
        if any(f.severity == "error" for f in findings):
            raise typer.Exit(2)


def _register_publish(app: typer.Typer, show: _Show, fail: Fail) -> None:
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
        from geo.services import policy, publish

        try:
            with _engine() as engine:
                done = publish.publish_set(
                    engine,
                    set_id,
                    who=policy.operator(),
                    author=author,
                    reason=reason,
                    override_reason=override_reason,
                )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        c = done.result.counts
        show.console.print(
            f"[green]published boundary set {set_id}[/]: {c['changed']} changed, {c['new']} new, "
            f"{c['removed']} retired, {c['unchanged']} unchanged (kept their versions)"
        )


def _register_export(app: typer.Typer, show: _Show, fail: Fail) -> None:
    @app.command("export")
    def export_cmd(
        out: Annotated[Path, typer.Option(help="File (gpkg/geojson/csv) or folder (shp)")],
        format: Annotated[str, typer.Option(help="|".join(BOUNDARY_EXPORT_FORMATS))] = "gpkg",
        crs: Annotated[str | None, typer.Option(help="wgs84|gcj02|bd09|cgcs2000|EPSG:n")] = None,
        as_of: Annotated[
            datetime | None, typer.Option(help="The map as it was then (ISO date/time)")
        ] = None,
    ) -> None:
        """Write the live (or dated) boundaries and special grids to a file."""
        from geo.services import boundaries as uc

        from boundaries.export import export_boundaries

        try:
            with _engine() as engine:
                units, special = uc.map_at(engine, as_of)
            if units.empty:
                fail("no boundaries in force then; load or publish some first")
            written = export_boundaries(units, out, format, special=special, crs=crs)
        except GridmapError as exc:
            fail(exc.message)
        for path in written:
            show.console.print(f"wrote {path}")


def _register_sets(app: typer.Typer, show: _Show) -> None:
    @app.command("sets")
    def sets_cmd() -> None:
        """List boundary sets (drafts, active, retired)."""
        from geo.services import boundaries as uc

        with _engine() as engine:
            rows = uc.list_sets(engine)
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
        show.console.print(table)

"""``gridmap ledger import|export`` and ``gridmap workload``: registers from ledgers (台账).

The commands call the same use cases as the API (:mod:`geo.services.ledgers`,
:mod:`geo.services.registers`), as an operator: every person, phones whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from geo.errors import GridmapError
from geo.io.fieldmap import parse_field_map
from geo.vocab import LEDGER_MIN_SCORE

from api.cli.common import console, fail

if TYPE_CHECKING:
    from geo.registers import RowReport

_STYLE = {"fatal": "red", "unlocatable": "yellow", "duplicate": "dim", "located": "cyan"}
KINDS = ("compounds", "workers", "special_grids")
SORTS = ("households", "compounds", "unowned", "incidents_per_month")


def _rows_table(rows: Iterable[RowReport]) -> Table:
    table = Table("row", "status", "action", "name", "score", "note")
    for r in rows:
        style = _STYLE.get(r.status, "")
        table.add_row(
            str(r.row),
            f"[{style}]{r.status}[/]" if style else r.status,
            r.action or "",
            r.name or "",
            "" if r.score is None else f"{r.score:.0f}",
            r.reason or (r.matched or ""),
        )
    return table


def _workload_table(data: dict[str, Any], rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "grid",
        "name",
        "households",
        "population",
        "compounds",
        "unowned",
        "special",
        "incidents/month",
        title=f"网格工作量 workload per grid ({', '.join(data['months'][-1:]) or '-'})",
    )
    for r in rows:
        table.add_row(
            r["code"],
            r["name"],
            str(r["households"]),
            "" if r["population"] is None else str(r["population"]),
            str(r["compounds"]),
            str(r["unowned"]),
            str(r["special_grids"]),
            f"{r['incidents_per_month']:.1f}",
        )
    return table


def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="XLSX or CSV")],
    kind: Annotated[str, typer.Option(help="compounds, workers or special_grids")] = "compounds",
    commit: Annotated[bool, typer.Option("--commit", help="Write (default: dry run)")] = False,
    crs: Annotated[str | None, typer.Option(help="CRS of rows without 坐标系")] = None,
    management_type: Annotated[
        str | None, typer.Option(help="For rows without 物业类型, e.g. unowned")
    ] = None,
    column_map: Annotated[
        str | None, typer.Option("--map", help="field=header,… e.g. name=楼院")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (detected)")] = None,
    min_score: Annotated[float, typer.Option(help="Least geocoder score")] = LEDGER_MIN_SCORE,
    author: Annotated[str, typer.Option(help="Who imports (recorded)")] = "cli",
) -> None:
    """Import a ledger: a per-row report; writes only with --commit, all or nothing."""
    if kind not in KINDS:
        fail("--kind must be compounds, workers or special_grids / --kind 取值有误")
    from geo.registers import RowReport
    from geo.services import ledgers, policy
    from geo.settings import Settings
    from geo.store.db import make_engine

    engine = make_engine(Settings())
    try:
        out = ledgers.import_ledger(
            engine,
            file.read_bytes(),
            file.name,
            kind,
            commit=commit,
            who=policy.operator(),
            actor=author,
            gazetteer=ledgers.offline_gazetteer(engine) if kind == "compounds" else None,
            column_map=parse_field_map(column_map),
            encoding=encoding,
            crs=crs,
            management_type=management_type,
            min_score=min_score,
        )
    except GridmapError as exc:
        rows = exc.extra.get("rows")
        if rows:
            console.print(_rows_table([RowReport(**r) for r in rows]))
        fail(f"{exc.message}\n{exc.message_zh}")
    finally:
        engine.dispose()
    console.print(_rows_table(out.rows))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(out.counts.items()))
    if out.committed:
        console.print(f"[green]imported[/] {file.name}: {counts}")
    else:
        console.print(f"dry run (nothing written; add --commit): {counts}")


def export_cmd(
    out: Annotated[Path, typer.Argument(help="File to write (.xlsx or .csv)")],
    kind: Annotated[str, typer.Option(help="compounds, workers or special_grids")] = "compounds",
    unit: Annotated[str | None, typer.Option(help="Only inside this unit code")] = None,
    crs: Annotated[str, typer.Option(help="CRS of the coordinates")] = "wgs84",
) -> None:
    """Export a register in the import layout, with the grid each row falls in.

    Phone numbers are written whole: the command runs as an operator with direct
    database access (the API's export masks them as its single-item reads do)."""
    from geo.services import ledgers
    from geo.settings import Settings
    from geo.store.db import make_engine

    fmt = "csv" if out.suffix.lower() == ".csv" else "xlsx"
    engine = make_engine(Settings())
    try:
        exported = ledgers.export_ledger(engine, kind, fmt, unit=unit, crs=crs)
    except GridmapError as exc:
        fail(f"{exc.message}\n{exc.message_zh}")
    finally:
        engine.dispose()
    out.write_bytes(exported.content)
    console.print(f"{exported.rows} rows written to {out}")


def workload_cmd(
    months: Annotated[int, typer.Option(help="Months of incidents")] = 6,
    sort: Annotated[
        str, typer.Option(help="households, compounds, unowned or incidents")
    ] = "households",
    limit: Annotated[int, typer.Option(help="Rows shown (0: all)")] = 30,
) -> None:
    """Workload per grid / 网格工作量: households, compounds, unowned, special grids,
    incidents per month; the largest first."""
    from geo.services import registers as uc
    from geo.settings import Settings
    from geo.store.db import make_engine

    engine = make_engine(Settings())
    try:
        data = uc.workload(engine, months)
    finally:
        engine.dispose()
    key = {"incidents": "incidents_per_month"}.get(sort, sort)
    if key not in SORTS:
        fail("--sort must be households, compounds, unowned or incidents")
    rows = sorted(data["grids"], key=lambda r: -r[key])
    if limit:
        rows = rows[:limit]
    console.print(_workload_table(data, rows))


def register(app: typer.Typer, *_shared: object) -> None:
    """Add ``ledger import``, ``ledger export`` and ``workload`` to ``app`` (the console and
    ``fail`` that main passes are :mod:`api.cli.common`'s, imported here too)."""
    ledger_app = typer.Typer(help="Ledgers (台账) of compounds and grid workers: import, export.")
    app.add_typer(ledger_app, name="ledger")
    ledger_app.command("import")(import_cmd)
    ledger_app.command("export")(export_cmd)
    app.command("workload")(workload_cmd)

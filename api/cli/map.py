"""``gridmap map dashboard --out FILE.html``: a web map as one self-contained HTML file.

The file inlines every script, stylesheet and image (:func:`web_map.assets.inline_assets`),
draws no basemap and carries no filter form (there is no server behind a file), so it
opens from ``file://`` — on a laptop, from a USB stick, as an e-mail attachment —
without a single request.

Pages are made by *builders* in :data:`BUILDERS`: a builder takes the engine, the
settings, the language and its own options and returns the page's HTML with assets
linked under :data:`STATIC_URL` (each calls the page's renderer in :mod:`web_map.pages`,
as the served page does). :func:`export_page` turns any of them into a
file. A new map (e.g. ``planner``) plugs in with one entry in :data:`BUILDERS` and a
small command that collects its options and calls :func:`export_page`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from geo.errors import GridmapError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from geo.settings import Settings

STATIC_URL = "/static"

PageBuilder = Callable[["Engine", "Settings", str, dict[str, Any]], str]


def _dashboard(engine: Engine, settings: Settings, lang: str, options: dict[str, Any]) -> str:
    from geo.store.dashboard import DashboardFilters

    from web_map.pages.dashboard import render_dashboard

    return render_dashboard(
        engine,
        settings,
        DashboardFilters(**options),
        lang=lang,
        static_url=STATIC_URL,
        basemap=None,  # a file must not fetch tiles
        interactive=False,
    )


def _planner(engine: Engine, settings: Settings, lang: str, options: dict[str, Any]) -> str:
    from web_map.pages.planner import render_planner

    # Read-only: layers, labels, search and findings; a file cannot save edits.
    return render_planner(engine, lang, static_url=STATIC_URL, editable=False)


BUILDERS: dict[str, PageBuilder] = {"dashboard": _dashboard, "planner": _planner}
"""Page name → builder; ``gridmap map <name>`` exports it."""


def export_page(
    name: str,
    out: Path,
    *,
    settings: Settings | None = None,
    lang: str = "zh",
    options: dict[str, Any] | None = None,
    builders: dict[str, PageBuilder] | None = None,
) -> int:
    """Build page ``name`` and write it to ``out`` as one self-contained file.

    Parameters
    ----------
    name
        A key of ``builders`` (default :data:`BUILDERS`).
    out
        File to write (UTF-8 HTML); its folder is created.
    settings
        Database and resolutions; default ``Settings()``.
    lang
        ``zh`` or ``en``.
    options
        The builder's own options (for ``dashboard``: the fields of
        :class:`geo.store.dashboard.DashboardFilters`).

    Returns
    -------
    int
        Bytes written.

    Raises
    ------
    KeyError
        For an unknown page name.
    """
    from geo.settings import Settings
    from geo.store.db import make_engine

    from web_map.assets import inline_assets

    builders = BUILDERS if builders is None else builders
    if name not in builders:
        raise KeyError(f"no map called {name!r}; known: {sorted(builders)}")
    settings = settings or Settings()
    engine = make_engine(settings)
    try:
        page = builders[name](engine, settings, lang, options or {})
    finally:
        engine.dispose()
    data = inline_assets(page, STATIC_URL).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return len(data)


def register(app: typer.Typer, console, fail) -> None:
    map_app = typer.Typer(help="Web maps as self-contained HTML files (open offline).")
    app.add_typer(map_app, name="map")

    @map_app.command("dashboard")
    def dashboard_cmd(
        out: Annotated[Path, typer.Option("--out", help="HTML file to write")],
        lang: Annotated[str, typer.Option(help="zh | en")] = "zh",
        start: Annotated[
            str | None, typer.Option("--from", help="First day, YYYY-MM-DD (Beijing)")
        ] = None,
        end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
        days: Annotated[int, typer.Option(help="Window length without --from/--to")] = 30,
        res: Annotated[int | None, typer.Option(help="H3 resolution of the heat, 7–12")] = None,
        category: Annotated[list[str], typer.Option(help="Incident category code (repeat)")] = [],  # noqa: B006 - typer needs a literal default
        street: Annotated[str | None, typer.Option(help="Street code")] = None,
        community: Annotated[str | None, typer.Option(help="Community code")] = None,
    ) -> None:
        """Write the supervisor dashboard as one HTML file (no request when opened)."""
        if lang not in ("zh", "en"):
            fail(f"--lang must be zh or en, not {lang!r}")
        from geo.incidents.categories import check_categories

        try:
            size = export_page(
                "dashboard",
                out,
                lang=lang,
                options={
                    "start": start,
                    "end": end,
                    "days": days,
                    "res": res,
                    "categories": tuple(check_categories(category)),
                    "street": street,
                    "community": community,
                },
            )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        console.print(f"[green]wrote[/] {out} ({size / 1e6:.2f} MB)")

    @map_app.command("planner")
    def planner_cmd(
        out: Annotated[Path, typer.Option("--out", help="HTML file to write")],
        lang: Annotated[str, typer.Option(help="zh | en")] = "zh",
    ) -> None:
        """Write the planner map (levels, special grids, labels, search, findings; no
        editing) as one HTML file."""
        if lang not in ("zh", "en"):
            fail(f"--lang must be zh or en, not {lang!r}")
        try:
            size = export_page("planner", out, lang=lang)
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        console.print(f"[green]wrote[/] {out} ({size / 1e6:.2f} MB)")

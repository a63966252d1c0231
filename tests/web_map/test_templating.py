"""Page templates are files behind one Jinja environment; a deployment's folder overrides
any of them by name, the package's own stay the fallback."""

from __future__ import annotations

import pytest

from tests.web_map.test_overview import synthetic_levels
from web_map.pages.overview import build_overview_map
from web_map.templating import TEMPLATE_DIR, get_template, render, use_template_folder


@pytest.fixture()
def reset_templates():
    yield
    use_template_folder(None)


def test_an_override_folder_wins_and_the_package_fills_the_rest(tmp_path, reset_templates):
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "levels_panel.css").write_text(".gridmap-panel { color: #123456; }\n")
    use_template_folder(tmp_path)
    page = build_overview_map(synthetic_levels()).get_root().render()
    assert ".gridmap-panel { color: #123456; }" in page
    assert "gridmap-panel" in page and "L.control.layers" in page  # the rest as shipped
    use_template_folder(None)
    page = build_overview_map(synthetic_levels()).get_root().render()
    assert "#123456" not in page and "box-shadow: 0 1px 4px" in page


def test_html_templates_escape_and_scripts_are_included_verbatim():
    assert "&lt;b&gt;" in render("dashboard_legend.html", title="<b>", sections=[])
    js = (TEMPLATE_DIR / "js" / "planner_editor.js").read_text(encoding="utf-8")
    assert "function gridmapPlannerEditor(config)" in js
    assert get_template("js/planner_editor.js").render().strip() == js.strip()


def test_the_template_dir_setting_reaches_the_served_pages(loaded, test_settings, tmp_path):
    """GRIDMAP_TEMPLATE_DIR: a district restyles its pages without touching the package."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "levels_panel.css").write_text(".gridmap-panel { color: #654321; }\n")
    settings = test_settings.model_copy(update={"template_dir": tmp_path})
    try:
        with TestClient(create_app(settings)) as client:
            page = client.get("/")
            assert page.status_code == 200
            assert ".gridmap-panel { color: #654321; }" in page.text
    finally:
        use_template_folder(None)

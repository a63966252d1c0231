"""The pages' markup, styles and scripts as files, rendered with Jinja2.

Nothing of a page is written in a Python string: ``web_map/templates/`` holds

- ``*.html``: HTML fragments (legends, tables, forms) and the folium elements'
  macro templates (``header``/``html``/``script`` macros, as
  :class:`branca.element.MacroElement` expects; see :class:`TemplateElement`);
- ``css/*.css`` and ``js/*.js``: plain styles and scripts, included by those
  templates into the page itself, so a page stays one offline document (the file
  export writes it out as is, with the vendored libraries inlined).

HTML templates are autoescaped; scripts get their values through ``|tojson``; a
fragment rendered by its own template (:func:`render`) is placed with ``|safe``.

One :class:`jinja2.Environment` loads them through a :class:`jinja2.ChoiceLoader`: a
deployment's own folder first (:func:`use_template_folder`), then the package's, so a
district overrides one template (say, ``css/dashboard.css``) by dropping a file of
the same name in its folder; the app factory makes that one call with the folder a
setting names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from branca.element import MacroElement

TEMPLATE_DIR: Path = Path(__file__).resolve().parent / "templates"


def _environment(folder: Path | None) -> jinja2.Environment:
    own = jinja2.FileSystemLoader(TEMPLATE_DIR)
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(folder)] if folder else []
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([*loaders, own]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # an included script ends its last line
    )


_env = _environment(None)


def use_template_folder(folder: Path | str | None) -> None:
    """Look for templates in ``folder`` before the package's own (None: the package's
    only). Pages built afterwards use it; pages already cached keep theirs."""
    global _env
    _env = _environment(Path(folder) if folder else None)


def get_template(name: str) -> jinja2.Template:
    """The template ``name`` (a path under the templates folder)."""
    return _env.get_template(name)


def render(name: str, **values: Any) -> str:
    """Template ``name`` rendered with ``values`` (an HTML fragment, escaped by the
    template: a page template places it with ``|safe``)."""
    return get_template(name).render(**values).rstrip("\n")


class TemplateElement(MacroElement):
    """A folium element whose macros come from a template file (:attr:`template_name`),
    looked up when the page is rendered, so an override folder set later still counts."""

    template_name: str = ""

    @property
    def _template(self) -> jinja2.Template:  # type: ignore[override]
        return get_template(self.template_name)

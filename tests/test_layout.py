"""The layout's rules, held by tests: who may import whom, how big things grow, and
that every JSON endpoint says what it answers.

- ``api`` → ``geo.services`` (use cases) → ``geo.store`` (SQL) and pure ``geo.*``;
- pure ``geo.*`` (everything but ``geo.store`` and ``geo.services``) loads no database
  driver, ORM or web framework, and none of our store or use cases; the use cases load
  no web framework and no database library (their handles come from ``geo.store.db``);
- the CLI calls use cases, never a router;
- no router over 300 lines, no module over 500 lines (migrations and tests aside), no
  function over 80 lines (migrations aside);
- every public function of ``geo`` (module-level, and methods of public classes) has
  every parameter and its return annotated, so mypy checks its body and its callers.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "api", "web_map", "boundaries")
WEB = ("fastapi", "starlette", "httpx", "uvicorn")
DATABASE = ("sqlalchemy", "geoalchemy2", "psycopg", "alembic")


def _py_files(*folders: str) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        files += sorted((ROOT / folder).rglob("*.py"))
    return [f for f in files if "migrations" not in f.parts]


def _imports(path: Path) -> set[str]:
    """Every module name a file imports, at any depth (lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _starts(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


PURE = [f for f in _py_files("geo") if not _rel(f).startswith(("geo/store/", "geo/services/"))]


@pytest.mark.parametrize("path", PURE, ids=_rel)
def test_pure_geo_imports_no_store_web_or_database(path):
    bad = sorted(
        n
        for n in _imports(path)
        if _starts(n, (*WEB, *DATABASE, "geo.store", "geo.services", "api", "web_map"))
    )
    assert not bad, f"{_rel(path)} is pure geo but imports {bad}"


@pytest.mark.parametrize("path", _py_files("geo/services"), ids=_rel)
def test_use_cases_know_no_web_framework_or_database_library(path):
    # The transaction's handles (Connection, Engine) come from geo.store.db: only the
    # store imports SQLAlchemy or a driver.
    bad = sorted(n for n in _imports(path) if _starts(n, (*WEB, *DATABASE, "api", "boundaries")))
    assert not bad, f"{_rel(path)} is a use case but imports {bad}"


@pytest.mark.parametrize("path", _py_files("geo/store"), ids=_rel)
def test_store_knows_no_use_case_or_web(path):
    bad = sorted(n for n in _imports(path) if _starts(n, (*WEB, "geo.services", "api")))
    assert not bad, f"{_rel(path)} is the store but imports {bad}"


@pytest.mark.parametrize("path", _py_files("api/cli"), ids=_rel)
def test_cli_never_imports_a_router(path):
    bad = sorted(n for n in _imports(path) if _starts(n, ("api.routers",)))
    assert not bad, f"{_rel(path)} imports {bad}: call the use case in geo.services instead"


def test_the_locator_loads_no_database_or_web_framework():
    code = (
        "import sys, geo.lookup, geo.lookup.locator, geo.lookup.batch\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {(*WEB, *DATABASE)!r})\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _sizes() -> list[str]:
    over: list[str] = []
    for path in _py_files(*PACKAGES, "tests", "benchmarks"):
        rel, text = _rel(path), path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if rel.startswith("api/routers/") and lines > 300:
            over.append(f"router {rel}: {lines} lines > 300")
        if not rel.startswith("tests/") and lines > 500:
            over.append(f"module {rel}: {lines} lines > 500")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    over.append(f"function {rel}:{node.lineno} {node.name}: {length} lines > 80")
    return over


def test_nothing_outgrows_its_limit():
    assert _sizes() == []


def test_every_geo_package_says_what_it_owns():
    for init in sorted((ROOT / "geo").rglob("__init__.py")):
        if "migrations" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{_rel(init)} needs a docstring saying what it owns"


_FUNCTION = (ast.FunctionDef, ast.AsyncFunctionDef)


def _unannotated(source: str) -> list[str]:
    """Public functions of a module (module-level, and methods of public classes) with
    a parameter (self/cls aside) or the return left unannotated, as name:line."""
    gaps: list[str] = []
    for node in ast.parse(source).body:
        items: list[ast.stmt] = [node]
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            items = [m for m in node.body if isinstance(m, _FUNCTION)]
        for fn in items:
            if not isinstance(fn, _FUNCTION) or fn.name.startswith("_"):
                continue
            a = fn.args
            params = [
                p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")
            ]
            params += [p for p in (a.vararg, a.kwarg) if p is not None]
            if fn.returns is None or any(p.annotation is None for p in params):
                gaps.append(f"{fn.name}:{fn.lineno}")
    return gaps


def test_the_annotation_check_sees_each_kind_of_gap():
    src = """
def ok(a: int, *args: str, b: int = 1, **kw: float) -> None: ...
def no_return(a: int): ...
def bare_param(a, b: int) -> int: ...
def bare_star(*args) -> None: ...
def bare_kw(**kw) -> None: ...
def bare_kwonly(*, k) -> None: ...
def bare_posonly(p, /) -> None: ...
def _private(a): ...
class Public:
    def method(self, x) -> None: ...
    @classmethod
    def make(cls) -> "Public": ...
    def _hidden(self, y): ...
class _Private:
    def method(self, x): ...
"""
    assert [g.split(":")[0] for g in _unannotated(src)] == [
        "no_return",
        "bare_param",
        "bare_star",
        "bare_kw",
        "bare_kwonly",
        "bare_posonly",
        "method",
    ]


def test_every_public_geo_function_is_annotated():
    gaps = [
        f"{_rel(path)} {gap}"
        for path in _py_files("geo")
        for gap in _unannotated(path.read_text(encoding="utf-8"))
    ]
    assert gaps == []


def _api_routes(routes):
    """Every APIRoute, looking inside included routers (FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
        else:
            yield route


def test_every_json_endpoint_declares_its_answer(client):
    from fastapi.datastructures import DefaultPlaceholder
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute

    routes = [r for r in _api_routes(client.app.routes) if isinstance(r, APIRoute)]
    assert len(routes) > 60  # the walk found the routers' routes
    missing = []
    for route in routes:
        kind = route.response_class
        if isinstance(kind, DefaultPlaceholder):
            kind = kind.value
        if route.status_code == 204 or not issubclass(kind, JSONResponse):
            continue
        if route.response_model is None:
            missing.append(f"{sorted(route.methods)} {route.path}")
    assert missing == []


def test_page_html_lives_in_template_files():
    """No page markup in Python strings: a string of over 15 lines with a tag is a template."""
    found = []
    for path in _py_files("web_map", "api"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                s = node.value
                if s.count("\n") > 15 and ("<script" in s or "<style" in s or "<div" in s):
                    found.append(f"{_rel(path)}:{node.lineno}")
    assert found == []

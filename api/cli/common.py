"""What every ``gridmap`` command shares: the console (stderr) and :func:`fail`.

Results a script may capture go to stdout with ``typer.echo``; everything meant for a
person (progress, tables, errors) goes to :data:`console` on stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console

console = Console(stderr=True)

Fail = Callable[..., NoReturn]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` in red and end the command with exit status ``code``."""
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)

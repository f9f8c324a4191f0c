"""`gridcase import hotline FILE`: a day's 12345 work orders from CSV or XLSX."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import work orders from files.", no_args_is_help=True)

"""Registers (台账) as street offices keep them: compounds, grid workers, special grids.

Pure: reads ledger bytes, returns records and a report per row; the store writes what
the use case (:mod:`geo.services.ledgers`) decides. A ledger is what people actually
keep, so the reader expects mess: title rows above a header that may span two rows
through merged cells, blank rows, footnotes, trailing spaces, full-width digits (１２３),
traditional characters (號, 網), units after numbers (120户, 1985年), duplicate rows.
Each row ends in one status:

``ok``           parsed; coordinates given (converted to WGS-84) or none needed yet
``located``      placed through the forward geocoder from its address (score kept)
``unlocatable``  no coordinates and the address matched nothing well enough: kept
                 for manual placing, not dropped
``duplicate``    the same compound (or person) as an earlier row: skipped
``fatal``        cannot be imported as written (reason given); a commit is refused

Exports use the same headers, so a file exported and imported again changes nothing.

Modules: :mod:`~geo.registers.fields` (headers and labels), :mod:`~.records` (table,
records, reports, outcome), :mod:`~.read` (files and headers), :mod:`~.sheet` (an XLSX sheet
read with bounded work), :mod:`~.cells` (one cell),
:mod:`~.compounds`, :mod:`~.workers`, :mod:`~.special` (rows → records),
:mod:`~.locate` (by address; grid of a point), :mod:`~.write` (exports).
"""

from geo.io.fieldmap import parse_field_map
from geo.registers.cells import clean_text
from geo.registers.compounds import compound_key, parse_compounds
from geo.registers.fields import (
    COMPOUND_FIELDS,
    FIELDS,
    MIN_SCORE,
    SPECIAL_FIELDS,
    WORKER_FIELDS,
)
from geo.registers.locate import locate, place_chains
from geo.registers.read import read_table
from geo.registers.records import (
    CompoundRecord,
    ImportOutcome,
    LedgerTable,
    RowError,
    RowReport,
    SpecialRecord,
    WorkerRecord,
)
from geo.registers.special import parse_special_grids
from geo.registers.workers import parse_workers, worker_key
from geo.registers.write import (
    compound_cells,
    export_headers,
    safe_cell,
    worker_cells,
    write_table,
)

__all__ = [
    "COMPOUND_FIELDS",
    "FIELDS",
    "MIN_SCORE",
    "SPECIAL_FIELDS",
    "WORKER_FIELDS",
    "CompoundRecord",
    "ImportOutcome",
    "LedgerTable",
    "RowError",
    "RowReport",
    "SpecialRecord",
    "WorkerRecord",
    "clean_text",
    "compound_cells",
    "compound_key",
    "export_headers",
    "locate",
    "parse_compounds",
    "parse_field_map",
    "parse_special_grids",
    "parse_workers",
    "place_chains",
    "read_table",
    "safe_cell",
    "worker_cells",
    "worker_key",
    "write_table",
]

"""Registers in PostGIS, one module per entity: compounds, grid workers (and their
assignments), special grids' contacts, bulk loads, and the live units they are
filtered by. Functions run in the caller's transaction; edits write an audit entry in
it. The names most callers use are re-exported here (``registers.live_people``).
"""

from geo.store.registers.compounds import (
    COMPOUND_FIELDS,
    check_inside,
    compound_ids_in_units,
    compounds_frame,
    create_compound,
    delete_compound,
    get_compound,
    list_compounds,
    set_compound_grids,
    update_compound,
)
from geo.store.registers.loads import (
    assign_workers,
    upsert_compounds,
    upsert_special_grids,
    upsert_workers,
)
from geo.store.registers.special_grids import special_grids_frame
from geo.store.registers.units import unit_ids_for_codes, units_within
from geo.store.registers.workers import (
    delete_worker,
    get_worker,
    list_workers,
    live_people,
    put_worker,
    set_worker,
    worker_ids,
)

__all__ = [
    "COMPOUND_FIELDS",
    "assign_workers",
    "check_inside",
    "compound_ids_in_units",
    "compounds_frame",
    "create_compound",
    "delete_compound",
    "delete_worker",
    "get_compound",
    "get_worker",
    "list_compounds",
    "list_workers",
    "live_people",
    "put_worker",
    "set_compound_grids",
    "set_worker",
    "special_grids_frame",
    "unit_ids_for_codes",
    "units_within",
    "update_compound",
    "upsert_compounds",
    "upsert_special_grids",
    "upsert_workers",
    "worker_ids",
]

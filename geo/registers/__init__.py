"""Registers (台账) as street offices keep them: compounds and grid workers.

:mod:`geo.registers.ledger` reads clerks' spreadsheets and CSVs (titles, merged
headers, GBK, per-row CRS), normalises cells and turns rows into compound and worker
records with a report per row. Pure: the store writes what it returns.
"""

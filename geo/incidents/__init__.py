"""Incidents (事件/诉求): parsing, placement in grids, case rules, lifecycle and heat.

- :mod:`geo.incidents.records`: one incoming row → :class:`IncidentIn` (validated,
  CRS stated), and who among the special grids answers for it;
- :mod:`geo.incidents.placement`: incidents → grid, chain and special grid
  (:class:`SpecialIndex`, :func:`place_incidents`);
- :mod:`geo.incidents.rules`: the district's case rules (categories, precedence,
  time limits) read from TOML;
- :mod:`geo.incidents.lifecycle`: assign / escalate / close / reopen, due times;
- :mod:`geo.incidents.heat`: H3 heat per window, rising cells, per-grid rates.

Pure: no database, no HTTP.
"""

"""The domain: pure packages by subject, the store (the only SQL) and the use cases.

Pure packages (no database, no web framework): :mod:`geo.vocab` (the words),
:mod:`geo.crs`, :mod:`geo.hexgrid`, :mod:`geo.units`, :mod:`geo.topology`,
:mod:`geo.lookup`, :mod:`geo.gazetteer`, :mod:`geo.incidents`, :mod:`geo.patrol`,
:mod:`geo.registers`, :mod:`geo.ogc`. :mod:`geo.store` holds every SQL statement;
:mod:`geo.services` holds the use cases that the API and the CLI share.
"""

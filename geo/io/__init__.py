"""Reading and writing files: tables chunk by chunk, patrol track files.

- :mod:`geo.io.tables`: record batches in and out of CSV/Parquet/Arrow files of any
  size, CSV checked for UTF-8 and kept as text, spreadsheet formulas neutralised;
- :mod:`geo.io.tracks`: patrol track files (GPX, GeoJSON, CSV pings) → the pings frame
  :func:`geo.patrol.build_tracks` takes;
- :mod:`geo.io.fieldmap`: the one ``field=column`` parser (``--map`` of the CLI, the
  ``map`` form field of the upload endpoints).

Pure IO: no database, no HTTP.
"""

"""The store: every SQL statement of the project, one module per entity.

Tables are declared in :mod:`geo.store.models` and changed only through the Alembic
migrations in ``geo/store/migrations``; :mod:`geo.store.db` makes the engine;
:mod:`geo.store.cluster` runs the project-local PostGIS. Functions here take a
connection (or session) from their caller, who owns the transaction.
"""

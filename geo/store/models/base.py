"""The declarative base every table shares: the constraint and index naming
convention, and the check helpers the tables use (allowed values, valid geometries)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, MetaData
from sqlalchemy.orm import DeclarativeBase

from geo.settings import STORAGE_SRID

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def values_in(column: str, values: tuple[str, ...]) -> str:
    """SQL that holds when ``column`` is one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def geom_checks(column: str, types: tuple[str, ...]) -> list[CheckConstraint]:
    """Valid, non-empty geometries of the storage SRID and the allowed types only."""
    return [
        CheckConstraint(f"ST_IsValid({column})", name=f"{column}_valid"),
        CheckConstraint(f"NOT ST_IsEmpty({column})", name=f"{column}_not_empty"),
        CheckConstraint(f"ST_SRID({column}) = {STORAGE_SRID}", name=f"{column}_srid"),
        CheckConstraint(values_in(f"GeometryType({column})", types), name=f"{column}_type"),
    ]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

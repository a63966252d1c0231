"""patrol_visit: referential checks once per ingest instead of once per row.

The two foreign keys of ``patrol_visit`` (worker, grid) fired a trigger per inserted
row; on the patrol ingest that was more than half of PostgreSQL's time (≈ 3.5 µs per
row each, 30,000 rows per day of the sample's patrols). The same guarantee now comes
from two sides:

- writing: the ingest (geo/store/activity.add_visits) locks the distinct workers and
  grids of a batch ``FOR KEY SHARE`` — what each row's trigger did, once per id — and
  refuses the batch if one is missing;
- deleting: a trigger refuses to delete (or renumber) a worker or unit that visits
  still name, as the foreign key did.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GUARD = """
CREATE FUNCTION patrol_visit_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    IF (TG_TABLE_NAME = 'grid_worker'
            AND EXISTS (SELECT 1 FROM patrol_visit WHERE worker_id = OLD.id))
        OR (TG_TABLE_NAME = 'admin_unit'
            AND EXISTS (SELECT 1 FROM patrol_visit WHERE grid_unit_id = OLD.id)) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('%s %s is still named by patrol visits', TG_TABLE_NAME, OLD.id);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$
"""


def upgrade() -> None:
    op.drop_constraint("fk_patrol_visit_worker_id_grid_worker", "patrol_visit", type_="foreignkey")
    op.drop_constraint(
        "fk_patrol_visit_grid_unit_id_admin_unit", "patrol_visit", type_="foreignkey"
    )
    op.execute(_GUARD)
    for table in ("grid_worker", "admin_unit"):
        op.execute(
            f"CREATE TRIGGER patrol_visit_keep_referenced BEFORE DELETE OR UPDATE OF id "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION patrol_visit_keep_referenced()"
        )


def downgrade() -> None:
    for table in ("grid_worker", "admin_unit"):
        op.execute(f"DROP TRIGGER patrol_visit_keep_referenced ON {table}")
    op.execute("DROP FUNCTION patrol_visit_keep_referenced()")
    op.create_foreign_key(
        "fk_patrol_visit_worker_id_grid_worker",
        "patrol_visit",
        "grid_worker",
        ["worker_id"],
        ["id"],
    )
    op.create_foreign_key(
        "fk_patrol_visit_grid_unit_id_admin_unit",
        "patrol_visit",
        "admin_unit",
        ["grid_unit_id"],
        ["id"],
    )

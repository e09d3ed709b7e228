"""The coach's lead cube (coaching.cockpit.cube) from an index alone, on SQLite: a team's leads
grouped by owner, stage and currency, with every column the cube's counts read (value, age,
chicken-rib, the idle and parking dates of "stalled", who handed it down, when it closed, the id
for the thanks), so SQLite walks the team's entries in group order instead of reading the table
and sorting for the GROUP BY (tests/coaching/test_cockpit_cube_index.py pins the plan).

Not on PostgreSQL: there an index-only scan needs the table's pages marked all-visible by the
last VACUUM, and every logged activity updates its lead. Measured on the 50,000-lead team
(bench/README.md, issue 22): the cube took 21 ms right after a VACUUM, but 59-78 ms once 10% of
the team's leads had been touched since, the same as without the index (58-62 ms); it would
be a 14-column index (12 MB) written on every lead change for a gain that lasts until the next
few hundred activities.

Not in the models' state (as 0009, 0012 and 0015), so makemigrations sees no change.
"""

from django.db import migrations

COLUMNS = (
    "team_id, owner_id, stage, currency, value, created_at, is_chicken_rib, last_activity_at, "
    "handed_at, next_step_due, parked_until, handed_by_id, closed_at, id"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS lead_team_cube ON crm_lead ({COLUMNS})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP INDEX IF EXISTS lead_team_cube")


class Migration(migrations.Migration):
    dependencies = [("crm", "0015_search_rank_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

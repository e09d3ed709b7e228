"""Indexes for the search's ranks (crm.selectors.search: the name itself, names starting with
the term, names containing it, then the other fields, each rank its own part of one query).

PostgreSQL:
- `upper(name) text_pattern_ops` on the lead's company, the company's and the contact's name:
  the rank "the name itself" (Django's iexact: `UPPER(col) = UPPER(term)`) and the rank "starts
  with" (istartswith: `UPPER(col) LIKE 'TERM%'`) read only their rows. text_pattern_ops because
  the database's collation (C.UTF-8, or a Chinese one) is not "C", for which alone PostgreSQL
  turns a LIKE prefix into a range of a default B-tree.
- `kaopu_chars(company)` (migration 0012's function) on the lead: the rank "contains" of a
  one- or two-character term asks the company alone; the index of the four fields together
  found every lead whose contact is a 王 for a company containing 王.
- `report_submitted`: the sent reports newest first, with what decides who may read them
  (team, author, shared with the +2) and their lead: a +2's reports, newest first, are read
  from the index alone until the search has its rows (2,900 entries, 0.5 ms) where PostgreSQL
  read the 20,000-row table (8.5 MB) for the +2's 900.
- `report_shared`: the reports shared with the +2, by team: the +2's reads the 900 they may
  see where the team inbox index gave every sent report of their ten teams (9,000).
- crm_report `parallel_workers = 0`: at 8 MB the table passes min_parallel_table_scan_size, and
  PostgreSQL chose a parallel walk of that index for the +2's search, whose worker took
  15-25 ms to start on the benchmark's machine against 5 ms for the whole walk alone. No page
  reads enough reports for a second process to pay.

SQLite: none. Its search reads each kind's matches once and ranks them (no index of SQLite's
serves LIKE '%…%', and with no statistics it read every rank apart by the team index); a
database that got this migration's first form (a `COLLATE NOCASE` index on the three names)
loses them when it is reversed.

None is in the models' state (as 0009 and 0012), so makemigrations sees no change.
"""

from django.db import migrations

# (table, index name, column)
NAMES = [
    ("crm_lead", "lead_company_upper", "company"),
    ("crm_company", "company_name_upper", "name"),
    ("crm_contact", "contact_name_upper", "name"),
]
LEAD_COMPANY_CHARS = (
    "CREATE INDEX IF NOT EXISTS lead_company_chars ON crm_lead USING gin (kaopu_chars(company))"
)
REPORT_SUBMITTED = (
    "CREATE INDEX IF NOT EXISTS report_submitted ON crm_report (submitted_at DESC, id DESC) "
    "INCLUDE (team_id, author_id, share_with_director, lead_id, state) WHERE state = 'submitted'"
)
REPORT_SHARED = (
    "CREATE INDEX IF NOT EXISTS report_shared ON crm_report (team_id) "
    "WHERE state = 'submitted' AND share_with_director"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name, column in NAMES:
        expression = f"upper({column}::text) text_pattern_ops"
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({expression})")
    schema_editor.execute(LEAD_COMPANY_CHARS)
    schema_editor.execute(REPORT_SUBMITTED)
    schema_editor.execute(REPORT_SHARED)
    schema_editor.execute("ALTER TABLE crm_report SET (parallel_workers = 0)")
    for table in ("crm_lead", "crm_company", "crm_contact", "crm_report"):
        schema_editor.execute(f"ANALYZE {table}")  # statistics of the new expressions


def drop(apps, schema_editor):
    if schema_editor.connection.vendor not in ("postgresql", "sqlite"):
        return
    for _table, name, _column in NAMES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_company_chars")
        schema_editor.execute("DROP INDEX IF EXISTS report_submitted")
        schema_editor.execute("DROP INDEX IF EXISTS report_shared")
        schema_editor.execute("ALTER TABLE crm_report RESET (parallel_workers)")


class Migration(migrations.Migration):
    dependencies = [("crm", "0014_lead_updated")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

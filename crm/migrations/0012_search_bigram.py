"""Character indexes for search terms of one or two characters (宏达, 王), PostgreSQL only.

pg_trgm (migration 0009) finds nothing to look up in a term shorter than three characters, so
宏达 scanned every row a person may see. `kaopu_chars(text)` is the text's characters,
lower-cased (string_to_array(lower(text), NULL)); a GIN index on it per searched table finds
the rows holding every character of the term (宏 and 达) at once, and
crm.selectors.search.chars_contain keeps those that hold the term itself (a strpos on each of
the few found). The search calls it on exactly the expression indexed below (the fields
concatenated in this order), or PostgreSQL could not use the index.

Why characters and not pairs of characters (bigrams), which would be exact: the pairs need a
loop (plpgsql, 50-70 µs a row against 5 µs here, one SQL expression PostgreSQL inlines), and
where the planner expects a term in most rows (公司, "co") it filters rows with the indexed
expression instead of using the index: at 50 µs a row that was seconds; here it stays a scan
of the order of the strpos it replaces.

The companies a manager or a +2 may see are those of their teams' leads (crm.permissions):
lead_team_account lets PostgreSQL read a team's (team, company) pairs from the index alone
(50,000 for a +2: a few ms) where it read every lead.

SQLite gets nothing here, and neither the function nor the indexes are in the models' state,
so makemigrations sees no change on either database.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION kaopu_chars(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT string_to_array(lower(value), NULL) $$
"""

# (table, index name, the fields concatenated, as crm.selectors.search's chars_contain() names them)
CHAR_INDEXES = [
    ("crm_lead", "lead_search_chars", ("company", "contact_name", "phone", "email")),
    ("crm_company", "company_name_chars", ("name",)),
    ("crm_company", "company_name_key_chars", ("name_key",)),
    ("crm_contact", "contact_search_chars", ("name", "mobile", "phone", "email")),
]

TEAM_ACCOUNT = "CREATE INDEX IF NOT EXISTS lead_team_account ON crm_lead (team_id, account_id)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table, name, fields in CHAR_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (kaopu_chars({' || '.join(fields)}))"
        )
    schema_editor.execute(TEAM_ACCOUNT)
    for table in ("crm_lead", "crm_company", "crm_contact"):
        schema_editor.execute(f"ANALYZE {table}")  # the planner's statistics of the characters


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, name, _fields in CHAR_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("DROP INDEX IF EXISTS lead_team_account")
    schema_editor.execute("DROP FUNCTION IF EXISTS kaopu_chars(text)")


class Migration(migrations.Migration):
    dependencies = [("crm", "0011_calendar_token")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

"""Trigram indexes for search from anywhere (crm.selectors.search) and the company and contact
lists' searches, on PostgreSQL only.

Each is a GIN index with pg_trgm's gin_trgm_ops on the column itself, which serves LIKE and
ILIKE: crm.selectors.search.text_contains asks ILIKE for a term of three characters or more
(Django's icontains compares UPPER(column), which would need an index per expression and
scans twice as slowly where the index cannot help). SQLite gets nothing here
(its LIKE scans, fine for a demo's rows), and the indexes are not in the models' state, so
makemigrations sees no change on either database.
"""

from django.db import migrations

# (table, index name, column)
INDEXES = [
    ("crm_lead", "lead_company_trgm", "company"),
    ("crm_lead", "lead_contact_name_trgm", "contact_name"),
    ("crm_lead", "lead_phone_trgm", "phone"),
    ("crm_lead", "lead_email_trgm", "email"),
    ("crm_company", "company_name_trgm", "name"),
    ("crm_company", "company_name_key_trgm", "name_key"),
    ("crm_contact", "contact_name_trgm", "name"),
    ("crm_contact", "contact_mobile_trgm", "mobile"),
    ("crm_contact", "contact_phone_trgm", "phone"),
    ("crm_contact", "contact_email_trgm", "email"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0008_import_profiles")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

"""Trigram indexes for search from anywhere (crm.selectors.search) and the company and contact
lists' searches, on PostgreSQL only.

Django's icontains compares UPPER(column::text) LIKE UPPER('%term%'), so each index is a GIN
index with pg_trgm's gin_trgm_ops on that same expression; the company's matching key is
searched with a plain contains, so its index is on the column itself. SQLite gets nothing here
(its LIKE scans, fine for a demo's rows), and the indexes are not in the models' state, so
makemigrations sees no change on either database.
"""

from django.db import migrations

# (table, index name, indexed expression)
INDEXES = [
    ("crm_lead", "lead_company_trgm", "UPPER((company)::text)"),
    ("crm_lead", "lead_contact_name_trgm", "UPPER((contact_name)::text)"),
    ("crm_lead", "lead_phone_trgm", "UPPER((phone)::text)"),
    ("crm_lead", "lead_email_trgm", "UPPER((email)::text)"),
    ("crm_company", "company_name_trgm", "UPPER((name)::text)"),
    ("crm_company", "company_name_key_trgm", "name_key"),
    ("crm_contact", "contact_name_trgm", "UPPER((name)::text)"),
    ("crm_contact", "contact_mobile_trgm", "mobile"),
    ("crm_contact", "contact_phone_trgm", "phone"),
    ("crm_contact", "contact_email_trgm", "UPPER((email)::text)"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, name, expression in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, name, _expression in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0008_import_profiles")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

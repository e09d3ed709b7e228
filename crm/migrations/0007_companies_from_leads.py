"""Each existing lead's contact fields become a company and a contact.

- Companies: one per matching key (crm.models.companies.company_name_key) across the whole
  database, not per team: a company is one organisation, and who sees it is decided by the
  leads (crm.permissions), never by the company. Its name is the first lead's spelling.
- Contacts: one per (company, name, phone, email) as typed on the leads of one owner in one
  team (the team's pool counts as one owner); a lead with none of the three gets no contact.
  The same person on two of a rep's leads at one company is one contact in both; on two reps'
  leads it is two contacts, so no rep sees another's notes, mobile or WeChat through a shared
  company. Their role in the deal is unknown, so it is "other".
- The leads' own fields (company, contact_name, phone, email) stay as they are: the list, the
  search, the import, the export, the API and the coach read them, so nothing is lost and the
  reverse only removes what this migration added.

Set-based in batches: a few dozen statements per 10k leads, no query per lead.
"""

from django.db import migrations

from crm.models.companies import company_name_key

BATCH = 5_000


def _contact_key(name: str, phone: str, email: str) -> tuple[str, str, str]:
    return (" ".join(name.split()), phone.strip(), email.strip().casefold())


def forward(apps, schema_editor):
    Lead = apps.get_model("crm", "Lead")
    Company = apps.get_model("crm", "Company")
    Contact = apps.get_model("crm", "Contact")
    LeadContact = apps.get_model("crm", "LeadContact")
    db = schema_editor.connection.alias
    leads = Lead.objects.using(db)

    rows = list(
        leads.order_by("pk").values_list(
            "pk",
            "company",
            "contact_name",
            "phone",
            "email",
            "created_by_id",
            "team_id",
            "owner_id",
        )
    )
    if not rows:
        return
    # Companies: the first spelling of each key.
    first: dict[str, tuple[str, int | None]] = {}
    keys: list[str] = []
    for _pk, name, _contact, _phone, _email, creator, _team, _owner in rows:
        key = company_name_key(name)[:200]
        keys.append(key)
        first.setdefault(key, (" ".join(name.split())[:200] or "?", creator))
    existing = dict(Company.objects.using(db).values_list("name_key", "pk"))
    Company.objects.using(db).bulk_create(
        [
            Company(name=name, name_key=key, created_by_id=creator)
            for key, (name, creator) in first.items()
            if key not in existing
        ],
        batch_size=BATCH,
    )
    company_ids = dict(Company.objects.using(db).values_list("name_key", "pk"))

    # Contacts: one per (company, team, owner, name, phone, email).
    Key = tuple[int, int, int | None, str, str, str]
    wanted: dict[Key, int | None] = {}
    lead_contact_key: dict[int, Key] = {}
    for row, key in zip(rows, keys, strict=True):
        pk, _name, contact, phone, email, creator, team, owner = row
        parts = _contact_key(contact, phone, email)
        if not any(parts):
            continue
        ckey = (company_ids[key], team, owner, *parts)
        wanted.setdefault(ckey, creator)
        lead_contact_key[pk] = ckey
    made = Contact.objects.using(db).bulk_create(
        [
            Contact(
                company_id=company,
                name=(name or phone or email)[:100],
                phone=phone[:40],
                email=email[:254],
                created_by_id=creator,
            )
            for (company, _team, _owner, name, phone, email), creator in wanted.items()
        ],
        batch_size=BATCH,
    )
    # bulk_create sets the primary keys on PostgreSQL and SQLite (RETURNING), in order.
    contact_ids = {ckey: contact.pk for ckey, contact in zip(wanted, made, strict=True)}

    # The leads point at their company; each lead's contact takes part in it.
    # One UPDATE … FROM (VALUES …) per batch (PostgreSQL, and SQLite ≥ 3.33).
    table = schema_editor.quote_name(Lead._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = [
                (row[0], company_ids[key])
                for row, key in zip(
                    rows[start : start + BATCH], keys[start : start + BATCH], strict=True
                )
            ]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET account_id = v.column2 FROM (VALUES {values}) AS v "
                f"WHERE {table}.id = v.column1",
                [value for pair in chunk for value in pair],
            )
    LeadContact.objects.using(db).bulk_create(
        [
            LeadContact(lead_id=pk, contact_id=contact_ids[ckey], role="other")
            for pk, ckey in lead_contact_key.items()
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )


def backward(apps, schema_editor):
    """Forget the companies and contacts; the leads kept their own fields all along. Plain
    DELETEs, child tables first: nothing else points at these rows yet."""
    Lead = apps.get_model("crm", "Lead")
    Activity = apps.get_model("crm", "Activity")
    q = schema_editor.quote_name
    lead = q(Lead._meta.db_table)
    schema_editor.execute(f"UPDATE {lead} SET account_id = NULL WHERE account_id IS NOT NULL")
    for model in (
        Activity.contacts.through,
        apps.get_model("crm", "LeadContact"),
        apps.get_model("crm", "Contact"),
        apps.get_model("crm", "Company"),
    ):
        schema_editor.execute(f"DELETE FROM {q(model._meta.db_table)}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_companies")]

    operations = [migrations.RunPython(forward, backward)]

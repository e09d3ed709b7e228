"""Issue 22: the cockpit's count of the period's closed leads read from lead_team_closed alone on
PostgreSQL (its INCLUDE columns); SQLite builds the same index without them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0024_lead_team_handed_moved"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_team_closed"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("closed_at__isnull", False)),
                fields=["team", "closed_at"],
                include=("owner", "stage", "currency", "handed_by", "id"),
                name="lead_team_closed",
            ),
        ),
    ]

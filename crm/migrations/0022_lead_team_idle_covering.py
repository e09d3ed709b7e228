"""Issue 22: lead_team_idle carries the stalled rule's columns (INCLUDE, PostgreSQL only), so the
cockpit counts a team's stalled leads from the index alone."""

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0021_leadevent_handoff_time"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_team_idle",
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                models.F("team"),
                django.db.models.functions.comparison.Coalesce(
                    "last_activity_at", "handed_at", "created_at"
                ),
                models.F("id"),
                condition=models.Q(("closed_at__isnull", True)),
                include=(
                    "stage",
                    "owner",
                    "currency",
                    "next_step_due",
                    "parked_until",
                    "last_activity_at",
                    "handed_at",
                    "created_at",
                ),
                name="lead_team_idle",
            ),
        ),
    ]

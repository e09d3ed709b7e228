"""Two indexes for issue 22: the board's biggest leads per team and stage, by value; a manager's
My day: the team's open leads by next step due (partial on "not closed", as the idle indexes)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_lead_last_reported_at"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["team", "stage", "-value", "-id"], name="lead_team_stage_value"
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("closed_at__isnull", True)),
                fields=["team", "next_step_due"],
                name="lead_team_due",
            ),
        ),
    ]

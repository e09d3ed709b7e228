"""The coach's lead cube (coaching.cockpit.cube) from an index alone: a team's leads grouped by
owner, stage and currency, with every column the cube's counts read (value, age, chicken-rib,
the idle and parking dates of "stalled", who handed it down, when it closed, the id for the
thanks), so the count walks the team's entries in group order instead of reading the table
and sorting or hashing its rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0015_search_rank_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=[
                    "team",
                    "owner",
                    "stage",
                    "currency",
                    "value",
                    "created_at",
                    "is_chicken_rib",
                    "last_activity_at",
                    "handed_at",
                    "next_step_due",
                    "parked_until",
                    "handed_by",
                    "closed_at",
                    "id",
                ],
                name="lead_team_cube",
            ),
        ),
    ]

"""Issue 22: the lead tally (crm.models.tally), filled from the leads there are, and two indexes
for the cockpit's clock-dependent counts beside it (leads created since a date, leads closed in
a period, per team)."""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models

# crm.models.tally.RECOUNT for every team, as it stands in this migration.
FILL = (
    "INSERT INTO crm_leadtally (team_id, owner_key, stage, currency, n, value, rib)"
    " SELECT team_id, COALESCE(owner_id, 0), stage, currency, COUNT(*), SUM(value),"
    " SUM(CASE WHEN is_chicken_rib THEN 1 ELSE 0 END)"
    " FROM crm_lead WHERE 1 = 1 GROUP BY team_id, COALESCE(owner_id, 0), stage, currency"
)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0018_lead_board_and_due_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.team",
                        verbose_name="team",
                    ),
                ),
                ("owner_key", models.IntegerField(default=0, verbose_name="owner")),
                ("stage", models.CharField(max_length=16, verbose_name="stage")),
                ("currency", models.CharField(max_length=3, verbose_name="currency")),
                ("n", models.IntegerField(default=0, verbose_name="leads")),
                (
                    "value",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="value",
                    ),
                ),
                ("rib", models.IntegerField(default=0, verbose_name="chicken-rib leads")),
            ],
            options={
                "verbose_name": "lead tally",
                "verbose_name_plural": "lead tallies",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "owner_key", "stage", "currency"), name="leadtally_key"
                    )
                ],
            },
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["team", "created_at"], name="lead_team_created"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("closed_at__isnull", False)),
                fields=["team", "closed_at"],
                name="lead_team_closed",
            ),
        ),
    ]

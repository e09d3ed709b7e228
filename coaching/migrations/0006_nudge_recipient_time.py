"""Issue 22: the cockpit's nudges per rep in the period read as a range of each rep's nudges."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0005_nudge_write_fewer_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="nudge",
            index=models.Index(
                fields=["recipient", "created_at", "state"], name="nudge_recipient_time"
            ),
        ),
    ]

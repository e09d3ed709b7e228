"""An activity's key made on the phone (issue 18): a quick log kept offline and sent again when
the signal returns is one activity, however often it arrives (unique per author, when set)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_search_trigram"),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="client_key",
            field=models.CharField(
                blank=True, default="", max_length=64, verbose_name="key made on the phone"
            ),
        ),
        migrations.AddConstraint(
            model_name="activity",
            constraint=models.UniqueConstraint(
                condition=models.Q(("client_key", ""), _negated=True),
                fields=("author", "client_key"),
                name="activity_client_key_once",
            ),
        ),
    ]

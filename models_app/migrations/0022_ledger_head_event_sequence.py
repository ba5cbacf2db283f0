"""The ledger head hands out event sequences (it used to be ``MAX(sequence) + 1`` over the events)."""

from django.db import migrations, models
from django.db.models import Max


def carry_on_from_the_events(apps, schema_editor):
    """Start the head's counter where the existing events stop, so no sequence is handed out twice."""
    Event = apps.get_model("models_app", "Event")
    LedgerHead = apps.get_model("models_app", "LedgerHead")
    last = Event.objects.aggregate(last=Max("sequence"))["last"] or 0
    LedgerHead.objects.filter(pk=1).update(last_event_sequence=last)


class Migration(migrations.Migration):
    dependencies = [
        ("models_app", "0021_version_latest_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgerhead",
            name="last_event_sequence",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(carry_on_from_the_events, migrations.RunPython.noop),
    ]

"""python manage.py verify_artifacts [--model M]"""

from django.core.management.base import BaseCommand, CommandError

from models_app.exceptions import StorageUnavailable
from models_app.storage.maintenance import artifacts_verify


class Command(BaseCommand):
    help = (
        "Re-read every stored file of ready versions, compare size and SHA-256 with the records, print "
        "each mismatch or missing object, and exit non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Only the versions of this model (its name).")

    def handle(self, *args, model=None, **options):
        checked = problems = 0
        try:
            for _record, problem in artifacts_verify(model_name=model):
                checked += 1
                if problem:
                    problems += 1
                    self.stdout.write(self.style.ERROR(str(problem)))
                elif options["verbosity"] >= 2:
                    self.stdout.write(f"ok {_record.storage_key}")
        except StorageUnavailable as exc:
            raise CommandError(f"{exc} ({checked} files checked before that).", returncode=2) from exc
        summary = f"{checked} files checked, {problems} problems."
        if problems:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))

"""python manage.py apply_retention [--dry-run]"""

from django.core.management.base import BaseCommand, CommandError

from models_app import services


class Command(BaseCommand):
    help = (
        "Apply every model's retention policy: purge the files of Archived versions beyond the "
        "keep_archived newest that have been Archived for more than archived_for_days days. The version "
        "rows, metadata and file records stay (status 'purged'); each purge is a ledger row of the "
        f"'{services.RETENTION_USERNAME}' account. Production, Staging, aliased, requested and held "
        "versions are never purged. --dry-run only prints what would be purged."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be purged; change nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        report = services.retention_apply(dry_run=dry_run)
        verb = "would purge" if dry_run else "purged"
        done = report.would_purge if dry_run else report.purged
        for result in done:
            version = result.version
            self.stdout.write(
                f"{verb} {version.registered_model.name} v{version.version}: {result.files} file(s), "
                f"{result.bytes_freed} bytes"
            )
            for error in result.errors:
                self.stderr.write(self.style.WARNING(f"  {error} (gc_artifacts removes it later)"))
        for version, refusal in report.kept:
            self.stdout.write(f"kept {version.registered_model.name} v{version.version}: {refusal}")
        for error in report.errors:
            self.stderr.write(self.style.ERROR(error))
        self.stdout.write(
            f"{len(done)} version(s) {verb} ({report.bytes_freed} bytes), {len(report.kept)} kept by the "
            "purge rules."
        )
        if report.errors:
            raise CommandError(f"retention failed for {len(report.errors)} model(s).", returncode=1)

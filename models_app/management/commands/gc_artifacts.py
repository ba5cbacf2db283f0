"""python manage.py gc_artifacts [--dry-run] [--grace-hours H]"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from models_app.exceptions import StorageUnavailable
from models_app.storage.maintenance import artifacts_gc


class Command(BaseCommand):
    help = (
        "Delete stored objects under artifacts/ that belong to no ready version and are older than the "
        "grace period (failed or abandoned uploads); expire abandoned direct uploads and abort stale "
        "multipart uploads. Never removes anything a version or an upload in progress refers to."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only print what would be removed.")
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=24.0,
            help="Leave objects younger than this many hours alone (default 24).",
        )

    def handle(self, *args, dry_run=False, grace_hours=24.0, **options):
        if grace_hours < 0:
            raise CommandError("--grace-hours must be 0 or more.")
        try:
            report = artifacts_gc(grace=timedelta(hours=grace_hours), dry_run=dry_run)
        except StorageUnavailable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        verb = "would delete" if dry_run else "deleted"
        for session in report.expired_uploads:
            self.stdout.write(f"expired upload {session.pk} ({session.version})")
        for obj in report.deleted:
            self.stdout.write(f"{verb} {obj.key} ({obj.size} bytes, {obj.modified.isoformat()})")
        for upload in report.aborted_multipart:
            self.stdout.write(f"{'would abort' if dry_run else 'aborted'} multipart upload of {upload.key}")
        for error in report.errors:
            self.stderr.write(self.style.ERROR(error))
        self.stdout.write(
            f"{len(report.deleted)} objects {verb} ({sum(o.size for o in report.deleted)} bytes), "
            f"{report.referenced} referenced, {report.kept_young} younger than {grace_hours:g} h kept, "
            f"{len(report.aborted_multipart)} multipart uploads {'to abort' if dry_run else 'aborted'}."
        )
        if report.errors:
            raise CommandError(f"{len(report.errors)} objects could not be removed.", returncode=1)

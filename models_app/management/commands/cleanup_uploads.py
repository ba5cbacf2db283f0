"""python manage.py cleanup_uploads"""

from django.core.management.base import BaseCommand

from models_app import services


class Command(BaseCommand):
    help = (
        "Abort direct uploads left open past REGISTRY_UPLOAD_EXPIRY_HOURS: their versions become failed "
        "and their uploaded parts are removed from the bucket."
    )

    def handle(self, *args, **options):
        expired = services.upload_session_expire_stale()
        for session in expired:
            self.stdout.write(f"aborted upload {session.pk} ({session.version})")
        self.stdout.write(f"{len(expired)} abandoned uploads aborted.")

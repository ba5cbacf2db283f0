"""``manage.py create_api_token <username> [--name N] [--expires-in-days D]``: prints a new token once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from models_app.exceptions import RegistryError
from models_app.services.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create a named API token for a user (a person or a service account) and print it once. "
        "Only its hash is stored: copy it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", help="Token name, unique per user (default: cli-<timestamp>).")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Days until it expires (default: never)."
        )

    def handle(self, *args, username, name, expires_in_days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its tokens would not work.")
        name = name or f"cli-{timezone.now():%Y%m%d-%H%M%S}"
        try:
            token, plaintext = api_token_create(user=user, name=name, expires_in_days=expires_in_days)
        except RegistryError as exc:
            raise CommandError(f"{exc.field}: {exc}" if exc.field else str(exc)) from None
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        # The plaintext alone on stdout, so `TOKEN=$(manage.py create_api_token ...)` works.
        self.stderr.write(f"Token '{token.name}' for {username} ({expiry}). It is shown only once:")
        self.stdout.write(plaintext)

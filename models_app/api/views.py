"""API views."""

from django.http import JsonResponse


def health(request):
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})

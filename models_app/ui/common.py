"""What the reviewer UI's views share: access, lookups, paging, filters, messages and the viewer's
actions on requests.

Access: anonymous visitors are sent to the login page; signed-in users without any registry role get a
403 page that says whom to ask. Which buttons to show and which POSTs to refuse outright (403) is
asked of ``models_app.rules``; every other refusal comes back from the services as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from models_app import rules, selectors
from models_app.choices import Stage
from models_app.exceptions import NotFound, RegistryError
from models_app.inputs import is_ascii_int


def registry_view(view: Callable) -> Callable:
    """Login required; then any registry role (or superuser), else 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        forbid(rules.may_use_registry(request.user))
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def forbid(refusal: rules.Refusal) -> None:
    """A POST from someone whose role lacks the action entirely is a 403, with the rule's message."""
    if refusal is not None:
        raise PermissionDenied(str(refusal))


def get_or_404(fn: Callable, **kwargs):
    try:
        return fn(**kwargs)
    except NotFound as exc:
        raise Http404(str(exc)) from None


def paginate(request: HttpRequest, queryset, per_page: int):
    # As for any page that is not a number, the first page: ``int`` would read "\u0662" as page 2.
    number = request.GET.get("page")
    return Paginator(queryset, per_page).get_page(
        number if is_ascii_int(number) or number == "last" else None
    )


def tidy_filter_form(filterset, labels: dict[str, str] | None = None):
    """Friendlier labels and an 'Any' choice instead of django-filter's dashes; returns the filterset."""
    for name, field in filterset.form.fields.items():
        if labels and name in labels:
            field.label = labels[name]
        if hasattr(field, "empty_label") and field.empty_label is not None:
            field.empty_label = "Any"
        choices = getattr(field, "choices", None)
        if isinstance(choices, list) and choices and choices[0][0] == "":
            field.choices = [("", "Any"), *choices[1:]]
        if hasattr(field.widget, "choices") and not hasattr(field, "queryset"):
            # The form's deep copy leaves the widget iterating the class's field (its dashes), so the
            # widget gets the choices it shows from this field, with "Any" for the empty one.
            field.widget.choices = [
                (value, "Any" if value == "" else label) for value, label in field.choices
            ]
    return filterset


def filtered(filterset):
    """The filterset's rows, or none while its input is invalid: a bad filter is shown as an error on
    the form rather than silently ignored (which would list everything)."""
    if filterset.is_bound and not filterset.is_valid():
        return filterset.queryset.none()
    return filterset.qs


def next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def confirmed(request: HttpRequest) -> bool:
    """Whether a POST is the second step of a confirmation (``confirm=yes``): Production-changing actions
    answer a confirmation first and act only then, with or without JavaScript."""
    return request.POST.get("confirm") == "yes"


def form_error(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else field
        for error in errors:
            messages.error(request, f"{label}: {error}")


def attempt(request: HttpRequest, action: Callable, success: Callable[[object], str]) -> bool:
    """Run one service call; its domain error becomes an error message instead of a server error."""
    try:
        result = action()
    except RegistryError as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, success(result))
    return True


def submit(
    request: HttpRequest, form, act: Callable[[dict], object], success: Callable[[object], str]
) -> bool:
    """A posted form: when valid, ``act(form.cleaned_data)`` through ``attempt``; otherwise each of its
    errors as a message."""
    if not form.is_valid():
        form_error(request, form)
        return False
    return attempt(request, lambda: act(form.cleaned_data), success)


def decorate_requests(requests, user) -> list:
    """Attach what the viewer may do with each request (for showing buttons only)."""
    out = []
    for req in requests:
        decided_by = [a.reviewer_id for a in req.approvals.all()]
        req.viewer_is_requester = req.requested_by_id == user.pk
        req.viewer_has_decided = user.pk in decided_by
        refusal = rules.may_decide_request(user, transition_request=req, decided_by=decided_by)
        req.viewer_can_decide = refusal is None
        req.viewer_decide_refusal = str(refusal) if refusal is not None else ""
        req.viewer_can_cancel = rules.may_cancel(user, transition_request=req) is None
        out.append(req)
    return out


def production_numbers(requests) -> dict[int, int]:
    """Model id -> its Production version number, for 'compare with Production' links."""
    model_ids = {req.version.registered_model_id for req in requests}
    if not model_ids:
        return {}
    rows = (
        selectors.version_list()
        .filter(registered_model_id__in=model_ids, stage=Stage.PRODUCTION)
        .values_list("registered_model_id", "version")
    )
    return dict(rows)


def attach_compare_urls(requests) -> None:
    production = production_numbers(requests)
    for req in requests:
        model = req.version.registered_model
        numbers = [production.get(model.pk), req.version.version]
        numbers = [str(n) for n in dict.fromkeys(n for n in numbers if n)]
        req.compare_url = (
            reverse("models_app:modelversion-compare", args=[model.name]) + "?versions=" + ",".join(numbers)
        )
        req.production_number = production.get(model.pk)

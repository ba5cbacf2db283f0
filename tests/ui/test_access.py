"""Who may open which page: anonymous -> login, no registry role -> 403, every role -> the page."""

import pytest
from django.urls import reverse

from models_app.models import Approval
from tests.conftest import nothing_written

pytestmark = pytest.mark.django_db

PAGES = [
    ("models_app:dashboard", []),
    ("models_app:registeredmodel-list", []),
    ("models_app:registeredmodel-detail", ["fraud-detector"]),
    ("models_app:modelversion-detail", ["fraud-detector", 3]),
    ("models_app:modelversion-compare", ["fraud-detector"]),
    ("models_app:transitionrequest-list", []),
    ("models_app:ledgerentry-list", []),
    ("models_app:ledgerentry-export", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_it_redirects_anonymous_visitors_to_login(client, scenario, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_it_redirects_anonymous_posts_to_login_and_changes_nothing(client, scenario):
    with nothing_written():
        response = client.post(reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Approval.objects.filter(transition_request=scenario.request).exists()


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_it_refuses_users_without_a_registry_role(login, scenario, norole, name, args):
    client = login(norole)
    with nothing_written():
        response = client.get(reverse(name, args=args))
    assert response.status_code == 403
    assert b"no registry role" in response.content
    assert b"Ask Governance" in response.content


@pytest.mark.parametrize("persona", ["publisher", "reviewer", "governance", "outsider", "superuser"])
def test_it_shows_every_page_to_every_role(request, login, scenario, persona):
    client = login(request.getfixturevalue(persona))
    for name, args in PAGES:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_it_refuses_posts_from_users_without_a_role(login, scenario, norole):
    client = login(norole)
    with nothing_written():
        response = client.post(
            reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]), {"comment": "x"}
        )
    assert response.status_code == 403
    assert not Approval.objects.filter(transition_request=scenario.request).exists()


def test_the_login_page_has_labelled_fields_and_signs_in(client, reviewer):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    response = client.post(reverse("login"), {"username": reviewer.username, "password": "pw-rita-reviewer"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_shows_an_error_not_a_session(client, reviewer):
    response = client.post(reverse("login"), {"username": reviewer.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get("/").status_code == 302


def test_logout_is_a_post_form_in_the_header(login, reviewer):
    client = login(reviewer)
    html = client.get("/").content.decode()
    assert f'action="{reverse("logout")}"' in html
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


def test_unknown_models_and_versions_are_404(login, scenario, reviewer):
    client = login(reviewer)
    assert client.get(reverse("models_app:registeredmodel-detail", args=["nope"])).status_code == 404
    assert (
        client.get(reverse("models_app:modelversion-detail", args=["fraud-detector", 99])).status_code == 404
    )
    assert client.get(reverse("models_app:modelversion-compare", args=["nope"])).status_code == 404


def test_action_urls_refuse_get(login, scenario, reviewer):
    url = reverse("models_app:transitionrequest-approve", args=[scenario.request.pk])
    assert login(reviewer).get(url).status_code == 405

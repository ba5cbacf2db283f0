"""No user-supplied text (names, descriptions, tags, comments, metadata) can inject markup or script."""

import pytest
from django.urls import reverse

from models_app import services
from models_app.ui import presenters
from tests.conftest import register

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('card')</script>"
IMG = '<img src=x onerror="alert(1)">'
PAYLOAD = f'Hello {SCRIPT} {IMG} [click](javascript:alert(3)) <a href="javascript:alert(4)">x</a>'


def _assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert 'onerror="' not in html and "onerror=alert" not in html
    assert '<img src="x"' not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html


def test_hostile_text_everywhere_renders_inert(login, publisher, reviewer, team):
    model = services.registered_model_create(
        name="hostile", team=team, actor=publisher, description=PAYLOAD, tags={"note": IMG}
    )
    v1 = register(
        model,
        publisher,
        metadata={
            "description": PAYLOAD,
            "tags": {"x": SCRIPT},
            "metrics": {"<b>auc</b>": 0.9},
            "parameters": {IMG: SCRIPT},
            "datasets": [{"uri": "javascript:alert(5)", "version": IMG}],
            "source": {"repository": "javascript:alert(6)//github.com/a/b", "commit": "abcdef1"},
            "environment": {"framework": SCRIPT, "libraries": {IMG: "1"}},
            "signature": {"inputs": SCRIPT},
        },
    )
    services.version_transition(version=v1, to="staging", actor=publisher)
    services.transition_request_create(version=v1, to="production", actor=publisher, comment=PAYLOAD)
    client = login(reviewer)
    for url in (
        "/",
        reverse("models_app:registeredmodel-list"),
        reverse("models_app:registeredmodel-detail", args=["hostile"]),
        reverse("models_app:modelversion-detail", args=["hostile", 1]),
        reverse("models_app:modelversion-compare", args=["hostile"]) + "?versions=1",
        reverse("models_app:transitionrequest-list"),
        reverse("models_app:ledgerentry-list"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_inert(response.content.decode())
    # The text itself is still there for the reader, escaped.
    html = client.get(reverse("models_app:modelversion-detail", args=["hostile", 1])).content.decode()
    assert "&lt;b&gt;auc&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(&#x27;card&#x27;)&lt;/script&gt;" in html


def test_markdown_is_rendered_then_sanitized():
    html = presenters.render_markdown(PAYLOAD + "\n\n**bold** [docs](https://example.com/x)")
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer nofollow">docs</a>' in html
    assert "<script" not in html and "onerror" not in html and "<img" not in html
    assert "javascript:" not in html

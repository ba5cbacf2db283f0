"""Admin details: the ledger list fits a laptop, the users list shows roles and teams, and the
promotion-policy form has a model picker and a gates editor that checks each line."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_app.admin.policies import MetricGatesField
from models_app.choices import LedgerKind
from models_app.models import LedgerEntry, PromotionPolicy
from tests.conftest import make_user, nothing_written

pytestmark = pytest.mark.django_db


def test_the_users_list_shows_roles_and_teams(client, superuser, publisher, reviewer, governance):
    client.force_login(superuser)
    html = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert '<th scope="col" class="column-roles">' in html
    assert '<th scope="col" class="column-teams">' in html
    row = html.split(f">{publisher.username}</a>")[1].split("</tr>")[0]
    assert '<td class="field-roles">Publishers</td>' in row
    assert '<td class="field-teams">fraud-team</td>' in row
    row = html.split(f">{reviewer.username}</a>")[1].split("</tr>")[0]
    assert '<td class="field-roles">Reviewers</td>' in row and '<td class="field-teams">—</td>' in row
    row = html.split(f">{superuser.username}</a>")[1].split("</tr>")[0]
    assert '<td class="field-roles">Superuser</td>' in row


@pytest.mark.parametrize(
    ("text", "gates"),
    [
        ("", []),
        ("accuracy >= 0.92", [{"metric": "accuracy", "op": ">=", "value": 0.92}]),
        (
            "accuracy>=0.92\n\n  latency_p95_ms <= 40  \nf1 == 1e-3",
            [
                {"metric": "accuracy", "op": ">=", "value": 0.92},
                {"metric": "latency_p95_ms", "op": "<=", "value": 40},
                {"metric": "f1", "op": "==", "value": 0.001},
            ],
        ),
    ],
)
def test_the_gates_editor_reads_one_gate_per_line(text, gates):
    field = MetricGatesField()
    assert field.clean(text) == gates
    assert field.clean(field.prepare_value(gates)) == gates


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accuracy => 0.9", "Line 1 ('accuracy => 0.9'): write a metric, an operator (>=, >, <=, <, ==)"),
        ("auc >= 0.9\nloss <= lots", "Line 2 ('loss <= lots'): 'lots' is not a number."),
        ("auc >= 0.9\n\nauc >= nan", "Line 3: Must be a finite number."),
        ("auc >= 0.9\nauc >= 0.8", "Line 2: 'auc >=' is given twice."),
    ],
)
def test_the_gates_editor_names_the_bad_line(text, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        MetricGatesField().clean(text)
    assert caught.value.messages[0].startswith(message), caught.value.messages


def test_the_policy_form_picks_the_model_by_name_and_shows_gates_as_lines(
    client, registered_model, role_groups
):
    staff = make_user("gina-gov", role_groups["Governance"], is_staff=True)
    client.force_login(staff)
    add = client.get(reverse("admin:models_app_promotionpolicy_add")).content.decode()
    assert 'class="admin-autocomplete' in add and 'data-model-name="promotionpolicy"' in add
    assert 'name="metric_gates"' in add and "gates-editor" in add
    found = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "models_app",
            "model_name": "promotionpolicy",
            "field_name": "registered_model",
            "term": "fraud",
        },
    )
    assert found.status_code == 200
    assert found.json()["results"] == [{"id": str(registered_model.pk), "text": registered_model.name}]

    response = client.post(
        reverse("admin:models_app_promotionpolicy_add"),
        {
            "registered_model": registered_model.pk,
            "metric_gates": "accuracy >= 0.92\nlatency_p95_ms <= 40",
            "group_approvals": "{}",
            "freeze_windows": "[]",
            "required_approvals": "1",
        },
    )
    assert response.status_code == 302
    policy = PromotionPolicy.objects.get()
    assert policy.metric_gates == [
        {"metric": "accuracy", "op": ">=", "value": 0.92},
        {"metric": "latency_p95_ms", "op": "<=", "value": 40},
    ]
    change = client.get(reverse("admin:models_app_promotionpolicy_change", args=[policy.pk])).content.decode()
    assert "accuracy &gt;= 0.92\nlatency_p95_ms &lt;= 40</textarea>" in change
    with nothing_written():
        bad = client.post(
            reverse("admin:models_app_promotionpolicy_change", args=[policy.pk]),
            {
                "metric_gates": "accuracy >= 0.92\nlatency_p95_ms <= fast",
                "group_approvals": "{}",
                "freeze_windows": "[]",
                "required_approvals": "1",
            },
        )
    assert bad.status_code == 200
    assert (
        "Line 2 (&#x27;latency_p95_ms &lt;= fast&#x27;): &#x27;fast&#x27; is not a number."
        in bad.content.decode()
    )
    assert LedgerEntry.objects.filter(kind=LedgerKind.POLICY_CHANGED).count() == 1

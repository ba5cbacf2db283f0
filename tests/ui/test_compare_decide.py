"""The compare page of a pending request: decide right there (with the rules' refusals shown), and the
files, signature and lineage of the compared versions."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import LedgerEntry, ModelVersion
from tests.conftest import nothing_written

pytestmark = pytest.mark.django_db

URL = reverse("models_app:modelversion-compare", args=["fraud-detector"])


def _section(html: str, slug: str) -> str:
    return html.split(f'id="{slug}-title"')[1].split("</section>")[0]


def test_a_reviewer_decides_on_the_compare_page_through_the_confirmation(login, scenario, reviewer):
    client = login(reviewer)
    page = URL + "?versions=2,3"
    html = client.get(page).content.decode()
    panel = _section(html, f"decide-{scenario.request.pk}")
    approve = reverse("models_app:transitionrequest-approve", args=[scenario.request.pk])
    reject = reverse("models_app:transitionrequest-reject", args=[scenario.request.pk])
    assert f'action="{approve}"' in panel and f'formaction="{reject}"' in panel
    assert "Better AUC on the March data." in panel
    assert f'name="next" value="{page}"' in panel

    with nothing_written():
        confirm = client.post(approve, {"comment": "Compared: ok.", "next": page}).content.decode()
    assert "v3 enters Production." in confirm and "v2 is archived." in confirm
    assert f'name="next" value="{page}"' in confirm
    response = client.post(approve, {"comment": "Compared: ok.", "next": page, "confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == page
    scenario.candidate.refresh_from_db()
    assert scenario.candidate.stage == Stage.PRODUCTION
    assert (
        LedgerEntry.objects.get(version=scenario.candidate, kind=LedgerKind.APPROVED).comment
        == "Compared: ok."
    )
    # Decided: the page no longer offers a decision.
    assert f"decide-{scenario.request.pk}" not in client.get(page).content.decode()


def test_a_reviewer_rejects_from_the_compare_page(login, scenario, reviewer):
    client = login(reviewer)
    reject = reverse("models_app:transitionrequest-reject", args=[scenario.request.pk])
    client.post(reject, {"comment": "Loss regressed.", "confirm": "yes", "next": URL + "?versions=2,3"})
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.REJECTED


def test_the_requester_and_other_roles_see_the_rules_refusal_instead_of_buttons(
    login, scenario, publisher, governance
):
    for user, message in (
        (
            publisher,
            "You requested this transition, so you cannot approve or reject it; another reviewer must.",
        ),
        (governance, "Only Reviewers can approve or reject transition requests."),
    ):
        html = login(user).get(URL + "?versions=2,3").content.decode()
        panel = _section(html, f"decide-{scenario.request.pk}")
        assert message in panel
        assert "button--approve" not in panel


def test_files_show_added_removed_and_changed_checksums_against_the_baseline(login, scenario, reviewer):
    html = login(reviewer).get(URL + "?versions=2,3").content.decode()
    files = _section(html, "cmp-files")
    row = re.search(r'<th scope="row" class="break">conf/settings.json</th>.*?</tr>', files, re.S).group(0)
    assert "added" in row
    model_bin = re.search(r'<th scope="row" class="break">model.bin</th>.*?</tr>', files, re.S).group(0)
    assert "changed SHA-256" in model_bin and "changed size" not in model_bin
    v3_sha = scenario.candidate.files.get(path="model.bin").sha256
    assert f'title="{v3_sha}"' in model_bin
    # With v3 as the baseline the settings file is the one v2 lacks.
    html = login(reviewer).get(URL + "?versions=2,3&baseline=3").content.decode()
    row = re.search(r"conf/settings.json</th>.*?</tr>", _section(html, "cmp-files"), re.S).group(0)
    assert "removed" in row


def test_the_signature_is_compared_column_by_column(login, scenario, reviewer):
    ModelVersion.objects.filter(pk=scenario.candidate.pk).update(
        signature={
            "inputs": '[{"name": "amount", "type": "float"}, {"name": "country", "type": "string"}]',
            "outputs": [{"name": "score"}],
        }
    )
    html = login(reviewer).get(URL + "?versions=2,3").content.decode()
    signature = _section(html, "cmp-signature")
    amount = re.search(r"inputs: amount.*?</tr>", signature, re.S).group(0)
    assert "<code>double</code>" in amount and "<code>float</code>" in amount
    country = re.search(r"inputs: country.*?</tr>", signature, re.S).group(0)
    assert "<code>—</code>" in country and "<code>string</code>" in country


def test_lineage_is_an_svg_of_the_parent_chain_with_datasets_and_commits(login, scenario, reviewer):
    html = login(reviewer).get(URL + "?versions=2,3").content.decode()
    lineage = _section(html, "lineage")
    svg = re.search(r"<svg class=\"lineage\".*?</svg>", lineage, re.S).group(0)
    # v3 -> v2 -> v1, newest first, each a link with its commit and dataset.
    versions = re.findall(r'href="/models/fraud-detector/versions/(\d+)/"', svg)
    assert versions == ["3", "2", "1"]
    assert svg.count("<line ") == 2
    assert "commit " + scenario.candidate.source_commit[:10] + " (main)" in svg
    assert "data s3://acme-data/transactions @ 2024-03" in svg
    assert svg.count("lineage__node--compared") == 2  # v2 and v3 are compared, v1 is not
    assert "v3 (Staging; commit" in svg and "is derived from v2 (Production;" in svg


def test_the_version_page_draws_its_lineage_too(login, scenario, reviewer):
    html = (
        login(reviewer)
        .get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3]))
        .content.decode()
    )
    svg = re.search(r"<svg class=\"lineage\".*?</svg>", _section(html, "lineage"), re.S).group(0)
    assert re.findall(r'href="/models/fraud-detector/versions/(\d+)/"', svg) == ["3", "2", "1"]
    # A version without a parent has no picture to draw.
    html = (
        login(reviewer)
        .get(reverse("models_app:modelversion-detail", args=["fraud-detector", 1]))
        .content.decode()
    )
    assert 'id="lineage-title"' not in html


def test_a_freeze_window_is_shown_on_the_confirmation_and_nothing_can_be_confirmed(
    login, scenario, reviewer, governance
):
    now = timezone.now()
    services.promotion_policy_set(
        registered_model=scenario.model,
        actor=governance,
        freeze_windows=[
            {
                "start": (now - timedelta(hours=1)).isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
                "reason": "quarter close",
            }
        ],
    )
    approve = reverse("models_app:transitionrequest-approve", args=[scenario.request.pk])
    with nothing_written():
        html = login(reviewer).post(approve).content.decode()
    assert "v3 enters Production." in html
    assert "are frozen from" in html and "(quarter close)" in html
    assert "Approve: v3 to Production" not in html

"""The comparison page: baseline choice, metric deltas, and parameter/dataset/environment/commit diffs."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = reverse("models_app:modelversion-compare", args=["fraud-detector"])


def _section(html: str, slug: str) -> str:
    return html.split(f'id="cmp-{slug}-title"')[1].split("</section>")[0]


def _metric_row(html: str, name: str) -> str:
    return re.search(rf"<tr[^>]*>\s*<th scope=\"row\">{name}.*?</tr>", _section(html, "metrics"), re.S).group(
        0
    )


def test_it_compares_with_production_as_baseline_and_marks_better_and_worse(login, scenario, reviewer):
    response = login(reviewer).get(URL + "?versions=3,2")
    assert response.status_code == 200
    html = response.content.decode()
    assert "measured against the baseline, v2 (current Production)" in html
    auc = _metric_row(html, "auc")  # higher is better: 0.93 vs 0.9
    assert "delta--better" in auc and "+0.03" in auc and "better</span>" in auc
    loss = _metric_row(html, "val_loss")  # lower is better: 0.38 vs 0.35
    assert "delta--worse" in loss and "+0.03" in loss and "worse</span>" in loss
    assert "(lower is better)" in loss
    latency = _metric_row(html, "p95_latency_ms")  # 13 vs 12 ms: worse
    assert "delta--worse" in latency
    # Baseline column first.
    head = _section(html, "metrics").split("</thead>")[0]
    assert head.index("v2") < head.index("v3")


def test_it_lists_parameter_dataset_environment_and_commit_differences(login, scenario, reviewer):
    html = login(reviewer).get(URL + "?versions=2,3").content.decode()
    params = _section(html, "parameters")
    assert "learning_rate" in params and "changed" in params and "<code>0.1</code>" in params
    assert "2 unchanged" in params  # max_depth, features
    datasets = _section(html, "datasets")
    assert "s3://acme-data/transactions" in datasets and "2024-02" in datasets and "2024-03" in datasets
    environment = _section(html, "environment")
    assert "libraries.pandas" in environment and "2.2.0" in environment and "2.3.0" in environment
    source = _section(html, "source")
    assert scenario.candidate.source_commit in source and scenario.production.source_commit in source


def test_one_version_is_compared_with_production(login, scenario, reviewer):
    html = login(reviewer).get(URL + "?versions=3").content.decode()
    assert "measured against the baseline, v2" in html
    assert 'value="3" checked' in html and 'value="2" checked' in html


def test_without_a_selection_it_offers_production_against_the_latest(login, scenario, reviewer):
    html = login(reviewer).get(URL).content.decode()
    assert "measured against the baseline, v2" in html
    assert 'value="3" checked' in html


def test_repeated_versions_parameters_and_an_explicit_baseline(login, scenario, reviewer):
    html = login(reviewer).get(URL + "?versions=2&versions=3&baseline=3").content.decode()
    assert "measured against the baseline, v3." in html
    auc = _metric_row(html, "auc")  # v2 against v3: 0.9 vs 0.93 is worse
    assert "delta--worse" in auc


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?versions=3,x", "&#x27;x&#x27; is not a version number."),
        ("?versions=2,99", "fraud-detector has no version 99."),
        ("?versions=1,2,3,4,5,6,7,8,9", "Compare at most 8 versions at once."),
    ],
)
def test_bad_selections_are_a_400_with_a_message(login, scenario, reviewer, query, message):
    response = login(reviewer).get(URL + query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_pending_request_links_straight_to_the_comparison(login, scenario, reviewer):
    html = login(reviewer).get(reverse("models_app:transitionrequest-list")).content.decode()
    assert f'href="{URL}?versions=2,3"' in html

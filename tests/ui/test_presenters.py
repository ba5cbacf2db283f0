"""Presentation helpers: forge links, metric direction, download links, chart geometry."""

from types import SimpleNamespace

import pytest

from models_app.ui import presenters


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("https://github.com/acme/m.git", "https://github.com/acme/m/commit/abc1234"),
        ("https://gitlab.com/group/sub/m", "https://gitlab.com/group/sub/m/-/commit/abc1234"),
        ("https://bitbucket.org/acme/m/", "https://bitbucket.org/acme/m/commits/abc1234"),
        ("http://github.com/acme/m", ""),
        ("git@github.com:acme/m.git", ""),
        ("https://github.com.evil.example/acme/m", ""),
        ("https://user@github.com/acme/m", ""),
        ("https://github.com/acme", ""),
        ("javascript:alert(1)//github.com/a/b", ""),
        ("https://git.internal/acme/m", ""),
    ],
)
def test_commit_links_only_for_known_forges_over_https(repository, expected):
    assert presenters.commit_url(repository, "abc1234") == expected


@pytest.mark.parametrize(
    ("name", "lower"),
    [("val_loss", True), ("error_rate", True), ("p95_latency_ms", True), ("MAE", True), ("rmse", True),
     ("test_mse", True), ("auc", False), ("accuracy", False), ("f1", False)],
)  # fmt: skip
def test_lower_is_better_by_name(name, lower):
    assert presenters.lower_is_better(name) is lower


def test_download_urls_quote_the_path_but_keep_folders():
    assert (
        presenters.file_download_url("m", 3, "conf/a b#?.json")
        == "/api/v1/models/m/versions/3/files/conf/a%20b%23%3F.json"
    )


def _v(number, stage, metrics):
    return SimpleNamespace(version=number, stage=stage, metrics=metrics)


def test_charts_plot_each_metric_across_versions_with_their_stages():
    versions = [
        _v(3, "staging", {"auc": 0.93, "loss": 0.2}),
        _v(1, "archived", {"auc": 0.88}),
        _v(2, "production", {"auc": 0.90, "loss": 0.3, "flag": True}),
    ]
    charts = {c.metric: c for c in presenters.metric_charts(versions)}
    assert set(charts) == {"auc", "loss"}  # booleans are not numbers to plot
    auc = charts["auc"]
    assert [(p.version, p.stage) for p in auc.points] == [(1, "archived"), (2, "production"), (3, "staging")]
    xs = [p.x for p in auc.points]
    ys = [p.y for p in auc.points]
    assert xs == sorted(xs) and xs[0] == auc.plot_left and xs[-1] == auc.plot_right
    assert ys[0] > ys[1] > ys[2]  # higher values sit higher (smaller y)
    assert all(auc.plot_top <= y <= auc.plot_bottom for y in ys)
    assert [label for _, label in auc.y_ticks] == ["0.88", "0.9", "0.92", "0.94"]
    assert charts["loss"].lower_is_better and not auc.lower_is_better
    assert [p.version for p in charts["loss"].points] == [2, 3]


def test_a_single_point_chart_is_centred_and_a_flat_series_still_has_a_range():
    (chart,) = presenters.metric_charts([_v(1, "none", {"auc": 0.5}), _v(2, "none", {})])
    (point,) = chart.points
    assert point.x == (chart.plot_left + chart.plot_right) / 2
    assert chart.plot_top < point.y < chart.plot_bottom


# -- files, signature and lineage of the compare page ------------------------------------------------------


class _V:
    """A stand-in version with what the presenters read."""

    def __init__(self, number, *, signature=None, parent=None, stage="none", datasets=(), commit=""):
        self.pk = self.version = number
        self.signature = signature
        self.parent_id = parent
        self.stage = stage
        self.datasets = list(datasets)
        self.source_commit = commit
        self.source_branch = ""


def test_the_signature_reads_mlflow_strings_api_lists_and_odd_shapes():
    from models_app.ui.presenters import _signature

    assert _signature(_V(1, signature={"inputs": '[{"name": "x", "type": "double", "shape": [-1]}]'})) == {
        "inputs: x": 'double {"shape": [-1]}'
    }
    assert _signature(_V(1, signature={"outputs": [{"type": "long"}]})) == {"outputs: #1": "long"}
    assert _signature(_V(1, signature={"inputs": "not json"})) == {"inputs": "not json"}
    assert _signature(_V(1, signature=None)) == {}


def test_lineage_geometry_stacks_boxes_with_an_arrow_to_each_parent():
    from models_app.ui.lineage import lineage

    chain = [
        _V(3, parent=2, stage="staging", commit="c" * 40, datasets=[{"uri": "s3://d", "version": "3"}] * 5),
        _V(2, parent=None, stage="production"),
    ]
    picture = lineage(chain, compared={3})
    top, bottom = picture.nodes
    assert [a.y1 for a in picture.arrows] == [top.y + top.height] and picture.arrows[0].y2 == bottom.y
    assert top.compared and not bottom.compared
    assert [line.text for line in top.lines][-1] == "+2 more datasets"
    assert [line.text for line in bottom.lines] == [
        "v2 · Production",
        "no commit recorded",
        "no datasets recorded",
    ]
    assert picture.height == bottom.y + bottom.height + 12
    assert picture.description.startswith("v3 (Staging; commit cccccccccc; s3://d @ 3")

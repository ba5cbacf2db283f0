"""The shared FilterSets, as both the API and the UI use them."""

from django.http import QueryDict

from models_app import services
from models_app.filters import ModelVersionFilterSet, RegisteredModelFilterSet
from models_app.models import ModelVersion, RegisteredModel
from tests.conftest import register


def filtered(filterset_class, queryset, query):
    fs = filterset_class(QueryDict(query), queryset=queryset)
    assert fs.is_valid(), fs.errors
    return fs.qs


def test_tags_match_by_key_or_key_value_whatever_the_key(registered_model, publisher, team):
    services.registered_model_update(
        registered_model=registered_model, actor=publisher, tags={"use-case": "fraud", "tier": "1"}
    )
    services.registered_model_create(name="other", team=team, actor=publisher, tags={"tier": "2"})
    models = RegisteredModel.objects.all()
    assert [m.name for m in filtered(RegisteredModelFilterSet, models, "tag=use-case")] == ["fraud-detector"]
    assert [m.name for m in filtered(RegisteredModelFilterSet, models, "tag=use-case:fraud")] == [
        "fraud-detector"
    ]
    assert list(filtered(RegisteredModelFilterSet, models, "tag=use-case:other")) == []
    assert [m.name for m in filtered(RegisteredModelFilterSet, models, "tag=tier:2")] == ["other"]


def test_versions_filter_by_several_metric_thresholds_and_order_by_a_metric(registered_model, publisher):
    for acc, lat in ((0.91, 30), (0.95, 50), (0.97, 20)):
        register(registered_model, publisher, metadata={"metrics": {"accuracy": acc, "latency_ms": lat}})
    versions = ModelVersion.objects.all()
    hits = filtered(ModelVersionFilterSet, versions, "metric=accuracy>=0.92&metric=latency_ms<40")
    assert [v.version for v in hits] == [3]
    ordered = filtered(ModelVersionFilterSet, versions, "ordering=-metric:accuracy")
    assert [v.version for v in ordered] == [3, 2, 1]


def test_a_malformed_metric_threshold_is_an_error_naming_the_field(db):
    fs = ModelVersionFilterSet(QueryDict("metric=accuracy~0.9"), queryset=ModelVersion.objects.all())
    assert not fs.is_valid()
    assert "metric" in fs.errors

"""``selectors.version_read`` runs SQL compiled once per process (models_app/compiled.py): for every kind
of reference it gives the instances the plain queryset gives, with the same joined rows and
annotations, and refuses what the plain lookup refuses."""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import Subquery
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from models_app import selectors, services
from models_app.compiled import CompiledQuery
from models_app.exceptions import ModelNotFound, VersionNotFound
from models_app.models import ModelVersion, RegisteredModel
from models_app.selectors.version_rows import version_ref_filter
from tests.conftest import register

ANNOTATIONS = ("file_rows", "alias_names", "deployment_rows", "hold_row")


def _plain(name, ref):
    where, _ = version_ref_filter(ref)
    model_id = RegisteredModel.objects.filter(name=name).values("pk")[:1]
    return selectors.version_rows().filter(where, registered_model_id=Subquery(model_id)).first()


def _as_compared(version):
    return (
        version.pk,
        version.version,
        version.registered_model.name,
        version.created_by.username,
        version.parent.version if version.parent_id else None,
        {name: getattr(version, name) for name in ANNOTATIONS},
    )


@pytest.fixture
def versions(registered_model, publisher, reviewer, governance):
    made = [
        register(registered_model, publisher, files={"a.bin": b"a", "b.bin": bytes([i])}) for i in range(3)
    ]
    services.version_transition(version=made[1], to="staging", actor=publisher)
    request = services.transition_request_create(version=made[1], to="production", actor=publisher)
    services.transition_request_approve(transition_request=request, actor=reviewer)
    services.version_transition(version=made[2], to="staging", actor=publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    services.deployment_report(version=made[1], actor=publisher, environment="prod", status="succeeded")
    services.version_hold(version=made[0], actor=governance, reason="Litigation 42.")
    return made


@pytest.mark.parametrize(
    ("ref", "number"),
    [("1", 1), ("3", 3), ("latest", 3), ("production", 2), ("staging", 3), ("@champion", 1)],
)
def test_the_compiled_read_gives_what_the_queryset_gives(versions, registered_model, ref, number):
    compiled = selectors.version_read(name=registered_model.name, ref=ref)
    plain = _plain(registered_model.name, ref)
    assert compiled.version == number
    assert _as_compared(compiled) == _as_compared(plain)
    # Compiled once: a second read is the one query alone.
    with CaptureQueriesContext(connection) as ctx:
        again = selectors.version_read(name=registered_model.name, ref=ref)
    assert len(ctx.captured_queries) == 1 and again.pk == compiled.pk


def test_each_call_binds_its_own_values(versions, registered_model, publisher, team):
    other = services.registered_model_create(name="other-model", team=team, actor=publisher)
    mine = register(other, publisher)
    assert selectors.version_read(name="other-model", ref="1").pk == mine.pk
    assert selectors.version_read(name=registered_model.name, ref="1").pk == versions[0].pk
    assert selectors.version_read(name="other-model", ref="latest").pk == mine.pk


@pytest.mark.parametrize("ref", ["4", "archived", "@nobody", "99999999999999999999", "2147483648"])
def test_what_names_no_version_is_not_found(versions, registered_model, ref):
    with pytest.raises(VersionNotFound):
        selectors.version_read(name=registered_model.name, ref=ref)


def test_an_unknown_model_is_not_found(versions):
    with pytest.raises(ModelNotFound):
        selectors.version_read(name="no-such-model", ref="1")


@pytest.mark.django_db(transaction=True)
def test_another_thread_reads_on_its_own_connection(registered_model, publisher):
    register(registered_model, publisher)
    selectors.version_read(name=registered_model.name, ref="1")  # compiled on this thread's connection
    seen = []

    def read():
        try:
            seen.append(selectors.version_read(name=registered_model.name, ref="latest").version)
        finally:
            connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(timeout=30)
    assert seen == [1]


def test_a_placeholder_missing_from_the_sql_is_refused(db):
    query = CompiledQuery(lambda name: RegisteredModel.objects.filter(description="fixed"), name="\x00n\x00")
    with pytest.raises(ValueError, match="name"):
        query.run(name="x")


def test_the_unfiltered_page_gives_what_the_queryset_gives(versions, registered_model, publisher):
    for _ in range(4):
        register(registered_model, publisher)
    pages = selectors.VersionsOfModel(registered_model)
    plain = list(selectors.version_rows().filter(registered_model=registered_model))
    assert pages.count() == len(plain) == 7
    assert [_as_compared(v) for v in pages[0:3]] == [_as_compared(v) for v in plain[0:3]]
    assert [v.version for v in pages[3:7]] == [4, 3, 2, 1]
    assert [v.version for v in pages[6:50]] == [1]
    assert pages[7:9] == [] and pages[3:3] == []
    with pytest.raises(TypeError):
        pages[2]


@pytest.mark.parametrize("ref", ["1", "latest", "production", "staging", "@champion"])
def test_the_compiled_row_lookup_gives_what_the_queryset_gives(versions, registered_model, ref):
    from models_app.selectors.version_rows import version_row_find

    found = version_row_find(name=registered_model.name, ref=ref)
    where, _ = version_ref_filter(ref)
    plain = (
        ModelVersion.objects.select_related("registered_model__team")
        .filter(where, registered_model=registered_model)
        .order_by("-version")
        .first()
    )
    assert (found.pk, found.stage, found.registered_model.team.name) == (
        plain.pk,
        plain.stage,
        plain.registered_model.team.name,
    )


@pytest.mark.django_db(transaction=True)
def test_a_compiled_row_lock_still_needs_a_transaction(registered_model):
    from models_app.services._shared import lock_model

    with transaction.atomic():
        assert lock_model(registered_model.pk).team.pk == registered_model.team_id
    # Reused SQL is not compiled again, so Django's own check would not run: the compiled query makes it.
    with pytest.raises(TransactionManagementError):
        lock_model(registered_model.pk)

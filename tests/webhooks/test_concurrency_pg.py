"""On the real PostgreSQL, with threads and processes on separate connections (bounded in count and time):
the events feed never skips or repeats, parallel workers send each delivery once, and a worker killed
mid-send loses nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from models_app.choices import DeliveryState, EventType
from models_app.models import Event, WebhookDelivery
from models_app.pipeline.delivery import deliver_due
from models_app.pipeline.events import event_emit
from models_app.selectors import event_list_after
from models_app.services import webhooks
from tests.conftest import register

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def only_postgres(postgres_only):
    """Row locks, SKIP LOCKED and concurrent connections are PostgreSQL's."""


def run_threads(targets, *, timeout: float = 60) -> None:
    errors: list[BaseException] = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a thread did not finish in time"
    assert not errors, errors


def test_the_feed_never_skips_or_repeats_under_concurrent_writes(registered_model, publisher):
    writers_done = threading.Event()

    def emitter(w: int):
        def run():
            for i in range(10):
                with transaction.atomic():
                    event_emit(
                        type=EventType.MODEL_UPDATED,
                        registered_model=registered_model,
                        payload={"w": w, "i": i},
                    )
                    # Work after the insert and before the commit: with a plain autoincrement id, a
                    # later id could commit first and a reader's cursor would jump past this one.
                    time.sleep(random.uniform(0, 0.004))

        return run

    def registrar():
        for _ in range(4):
            register(registered_model, publisher)

    seen: list[Event] = []

    def reader():
        cursor = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            finished = writers_done.is_set()
            batch = event_list_after(after=cursor, limit=7)
            seen.extend(batch)
            if batch:
                cursor = batch[-1].sequence
            elif finished:
                return
            else:
                time.sleep(0.001)

    reader_thread = threading.Thread(target=lambda: (reader(), connection.close()), daemon=True)
    reader_thread.start()
    run_threads([emitter(w) for w in range(4)] + [registrar, registrar])
    writers_done.set()
    reader_thread.join(60)
    assert not reader_thread.is_alive()

    all_events = list(Event.objects.order_by("sequence"))
    assert len(all_events) == 1 + 40 + 2 * 4 * 1  # model.created, 40 emitted, 8 version.registered
    assert [e.id for e in seen] == [e.id for e in all_events]
    assert [e.sequence for e in all_events] == list(range(1, len(all_events) + 1))


def test_two_workers_in_parallel_deliver_each_event_once(receiver, registered_model, publisher):
    webhooks.webhook_subscription_create(url=receiver.url, actor=publisher, registered_model=registered_model)
    with transaction.atomic():
        for i in range(30):
            event_emit(type=EventType.MODEL_UPDATED, registered_model=registered_model, payload={"i": i})
    receiver.delay = 0.01

    run_threads([lambda: deliver_due(worker="worker-a"), lambda: deliver_due(worker="worker-b")])

    expected = {str(e.id) for e in Event.objects.filter(type=EventType.MODEL_UPDATED)}
    assert len(receiver.ids()) == 30
    assert set(receiver.ids()) == expected
    deliveries = WebhookDelivery.objects.all()
    assert {d.state for d in deliveries} == {DeliveryState.SUCCEEDED}
    assert {d.attempts for d in deliveries} == {1}
    workers = set(deliveries.values_list("attempt_log__worker", flat=True))
    assert workers == {"worker-a", "worker-b"}


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_a_worker_killed_mid_send_loses_nothing(tmp_path, receiver, registered_model, publisher):
    _, secret = webhooks.webhook_subscription_create(
        url=receiver.url, actor=publisher, registered_model=registered_model
    )
    with transaction.atomic():
        for i in range(3):
            event_emit(type=EventType.MODEL_UPDATED, registered_model=registered_model, payload={"i": i})
    receiver.stall.set()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "REGISTRY_WEBHOOK_LEASE_SECONDS": "2",
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "deliver_webhooks", "--poll-interval", "0.1", "--worker-id", "doomed"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert receiver.arrived.wait(30), (tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGKILL)  # mid-send: the receiver has the request but has not answered
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        log.close()
    receiver.stall.clear()
    receiver.release.set()
    first_id = receiver.ids()[0]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        deliver_due(worker="survivor")
        if not WebhookDelivery.objects.exclude(state=DeliveryState.SUCCEEDED).exists():
            break
        time.sleep(0.2)  # the dead worker's lease (2 s) has to run out first

    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.SUCCEEDED}
    ids = receiver.ids()
    expected = {str(e.id) for e in Event.objects.filter(type=EventType.MODEL_UPDATED)}
    assert set(ids) == expected
    assert ids.count(first_id) == 2  # at least once: the interrupted one was sent again, same webhook-id
    receiver.verify_all(secret)
    interrupted = WebhookDelivery.objects.get(event_id=first_id)
    errors = list(interrupted.attempt_log.order_by("number").values_list("worker", "error"))
    assert "lease expired" in errors[0][1]
    assert errors[-1] == ("survivor", "")

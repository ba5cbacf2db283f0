"""Storing a large spooled upload on both backends; the core's other artifact tests run on both backends
in tests/services/test_version_register.py."""

from __future__ import annotations

import hashlib
import os

from models_app import services
from models_app.storage import objectstore
from models_app.storage.artifacts import IncomingFile
from tests.conftest import stored_keys


def test_it_records_the_digest_of_what_was_stored_for_a_large_file_stream(
    any_storage, registered_model, publisher, tmp_path
):
    """A file-backed upload larger than one S3 part (as Django spools big uploads to disk)."""
    payload = os.urandom(9 * 1024 * 1024)
    spooled = tmp_path / "upload.tmp"
    spooled.write_bytes(payload)
    with spooled.open("rb") as stream:
        version, _ = services.version_register(
            registered_model=registered_model,
            actor=publisher,
            files=[IncomingFile(path="big.bin", stream=stream)],
            metadata={"files": {"big.bin": {"sha256": hashlib.sha256(payload).hexdigest()}}},
        )
    record = version.files.get()
    assert objectstore.hash_object(any_storage, record.storage_key) == (len(payload), record.sha256)
    assert stored_keys(any_storage) == [record.storage_key]

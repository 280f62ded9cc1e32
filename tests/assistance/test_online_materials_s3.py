"""The production store of materials: an S3-compatible bucket through the `minio` client, tested against a fake
S3 server (moto's server mode) answering real HTTP on loopback."""

import hashlib

import pytest
from moto.server import ThreadedMotoServer

from services.assistance.online.storage import store_from
from services.assistance.settings import AssistanceSettings
from shared.blobs import S3BlobStore
from shared.errors import NotFound, ServiceUnavailable
from tests.assistance.test_applications import (
    API,
    today,  # noqa: F401  (a pytest fixture these tests use)
)
from tests.assistance.test_online_applications import MOTHER, PDF, PNG, READER, apply, declare, upload
from tests.shared.loopback import free_port


@pytest.fixture(scope="module")
def fake_s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def s3_settings(endpoint: str, bucket: str) -> AssistanceSettings:
    return AssistanceSettings(
        materials_store="s3",
        materials_s3_endpoint=endpoint,
        materials_s3_secure=False,
        materials_s3_region="us-east-1",
        materials_s3_bucket=bucket,
        materials_s3_access_key="test-access-key",
        materials_s3_secret_key="test-secret-key",
    )


def test_the_s3_store_makes_its_bucket_keeps_bytes_and_type_and_says_what_is_missing(fake_s3):
    store = store_from(s3_settings(fake_s3, "materials-unit"))
    assert isinstance(store, S3BlobStore)
    store.put("applications/1/abc.pdf", PDF, "application/pdf")
    store.put("applications/1/abc.pdf", PDF, "application/pdf")  # the same key again: the same object
    assert store.get("applications/1/abc.pdf") == PDF
    stat = store.client.stat_object("materials-unit", "applications/1/abc.pdf")
    assert (stat.size, stat.content_type) == (len(PDF), "application/pdf")
    with pytest.raises(NotFound):
        store.get("applications/1/missing.png")
    with pytest.raises(ValueError):
        store.put("../escape", PNG, "image/png")


def test_an_unreachable_store_is_a_503_not_a_hang():
    store = store_from(s3_settings(f"127.0.0.1:{free_port()}", "materials-down"))
    with pytest.raises(ServiceUnavailable):
        store.put("applications/1/abc.png", PNG, "image/png")
    with pytest.raises(ServiceUnavailable):
        store.get("applications/1/abc.png")


async def test_materials_go_to_and_come_from_the_bucket(client, fake_s3, today):  # noqa: F811
    client.app.state.materials_store = store_from(s3_settings(fake_s3, "materials-service"))
    application = await apply(client, (await declare(client))["id"])
    uploaded = await upload(client, application["id"], PDF, name="scan.jpg", kind="income_proof")
    assert uploaded.status_code == 201 and uploaded.json()["content_type"] == "application/pdf", uploaded.text
    material = uploaded.json()
    key = f"applications/{application['id']}/{material['sha256']}.pdf"
    stat = client.app.state.materials_store.client.stat_object("materials-service", key)
    assert stat.size == len(PDF)
    for path, principal in (
        (f"/online-applications/{application['id']}/materials/{material['id']}/content", MOTHER),
        (f"/applications/{application['id']}/materials/{material['id']}/content?purpose=核对", READER),
    ):
        served = await client.get(f"{API}{path}", headers=client.as_(principal))
        assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == material["sha256"]


async def test_a_store_that_is_down_refuses_the_upload_with_503_and_keeps_nothing_half_done(client, today):  # noqa: F811
    client.app.state.materials_store = store_from(s3_settings(f"127.0.0.1:{free_port()}", "materials-down"))
    application = await apply(client, (await declare(client))["id"])
    refused = await upload(client, application["id"], PNG)
    assert refused.status_code == 503 and refused.headers["content-type"].startswith("application/problem+json")
    seen = await client.get(f"{API}/online-applications/{application['id']}", headers=client.as_(MOTHER))
    assert seen.status_code == 200 and seen.json()["materials"] == []

"""Batch standardisation: a GBK or UTF-8 CSV becomes a job with progress; every line comes back in the
result, a broken one with its reason; another partner cannot see the job; bad files are refused by field."""

import asyncio
import csv
import io

from services.placenames.scopes import PARSE
from tests.conftest import staff
from tests.placenames.helpers import API, YINZHOU_STAFF, load_demo, name_id

BATCHES = f"{API}/batch-standardizations"
PARTNER = staff("330200", PARSE, subject="partner:market-regulation")
OTHER = staff("330200", PARSE, subject="partner:post")


async def wait_done(client, job_id: str, principal=PARTNER) -> dict:
    for _ in range(1200):
        job = (await client.get(f"{BATCHES}/{job_id}", headers=client.as_(principal))).json()
        assert 0 <= job["percent"] <= 100
        if job["status"] == "done":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {job_id} did not finish: {job}")


async def test_a_gbk_file_with_bad_lines_comes_back_whole(committed_client):
    client = committed_client
    await load_demo(client)
    road = await name_id(client, "天童南路", "330212")
    address = (await client.post(f"{API}/addresses", headers=client.as_(YINZHOU_STAFF), json={
        "district_code": "330212", "road_id": road, "house_number": "588"})).json()
    lines = ["编号,地址", "a1,宁波市鄞州区天童南路588号", 'a2,"鄞州区天童路五百八十八号"', 'a3,"broken quote',
             "a4,", "a5,火星路1号", "a6," + "路" * 600, "a7,海曙区柳汀街23号", "a8,海曙区\x00柳汀街"]
    body = ("\r\n".join(lines) + "\r\n").encode("gbk")
    response = await client.post(BATCHES, content=body, headers=client.as_(PARTNER) | {"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["encoding"] == "gbk" and job["total_lines"] == 8 and job["bad_lines"] == 4
    done = await wait_done(client, job["id"])
    assert done["percent"] == 100 and done["processed_lines"] == 8 and done["matched_lines"] == 2
    assert (await client.get(f"{BATCHES}/{job['id']}", headers=client.as_(OTHER))).status_code == 404
    result = await client.get(done["result_url"], headers=client.as_(PARTNER))
    assert result.status_code == 200 and result.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(result.content.decode("utf-8"))))
    assert [r["id"] for r in rows] == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["a1"]["status"] == "matched" and by_id["a1"]["code"] == address["code"]
    assert by_id["a2"]["code"] == address["code"] and by_id["a2"]["road"] == "天童南路"
    assert by_id["a3"]["status"] == "bad" and "broken CSV" in by_id["a3"]["reasons"]
    assert by_id["a4"]["status"] == "bad" and by_id["a6"]["status"] == "bad"
    assert by_id["a5"]["status"] == "unmatched"
    assert by_id["a7"]["status"] == "unmatched" and by_id["a7"]["house_number"] == "23"
    assert by_id["a8"]["status"] == "bad" and "control character" in by_id["a8"]["reasons"]


async def test_a_plain_utf8_list_and_refused_files(committed_client):
    client = committed_client
    await load_demo(client)
    headers = client.as_(PARTNER) | {"content-type": "text/csv"}
    plain_file = "鄞州区天童南路1号\n江北区人民路5号\n".encode("utf-8-sig")
    plain = await client.post(BATCHES, content=plain_file, headers=headers | {"Idempotency-Key": "upload-1"})
    assert plain.status_code == 202 and plain.json()["encoding"] == "utf-8" and plain.json()["total_lines"] == 2
    retried = await client.post(BATCHES, content=plain_file, headers=headers | {"Idempotency-Key": "upload-1"})
    assert retried.status_code == 202 and retried.json()["id"] == plain.json()["id"]  # one job, not two
    running = await client.get(f"{BATCHES}/{plain.json()['id']}/result", headers=client.as_(PARTNER))
    assert running.status_code in (200, 409)  # 409 until done, never a half result
    await wait_done(client, plain.json()["id"])
    for body, params, field in ((b"", {}, "body"), (b"\xff\xfe\x00\x81\xff", {}, "encoding"),
                                ("鄞州区".encode("gbk"), {"encoding": "utf-8"}, "encoding"),
                                (b"a\n" * 100_001, {}, "body"), (b"address\n", {}, "body")):
        response = await client.post(BATCHES, content=body, params=params, headers=headers)
        assert response.status_code == 422, (body[:20], response.text)
        assert response.json()["errors"][0]["field"] == field
    too_big = await client.post(BATCHES, content=b"x" * (20 * 1024 * 1024 + 1), headers=headers)
    assert too_big.status_code == 413
    assert (await client.get(f"{BATCHES}/{'0' * 32}", headers=client.as_(PARTNER))).status_code == 404
    assert (await client.get(f"{BATCHES}/nope", headers=client.as_(PARTNER))).status_code == 422
    assert (await client.post(BATCHES, content=b"x\n")).status_code == 401


async def test_a_batch_whose_worker_stopped_is_taken_up_again(committed_client):
    import datetime as dt

    from sqlalchemy import update

    from services.placenames.batches.models import BatchJob
    client = committed_client
    await load_demo(client)
    body = "\n".join(f"鄞州区天童南路{n}号" for n in range(1, 701)).encode()  # two chunks
    job = (await client.post(BATCHES, content=body, headers=client.as_(PARTNER) | {"content-type": "text/csv"})).json()
    task = client.app.state.batch_tasks[job["id"]]
    task.cancel()  # the process "stops" before or during its first chunk
    await asyncio.gather(task, return_exceptions=True)
    async with client.app.state.database.sessionmaker() as session:  # its lease runs out
        await session.execute(update(BatchJob).where(BatchJob.id == job["id"]).values(
            lease_until=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)))
        await session.commit()
    done = await wait_done(client, job["id"])  # polling starts a new worker
    assert done["processed_lines"] == 700 and done["percent"] == 100
    result = await client.get(done["result_url"], headers=client.as_(PARTNER))
    rows = list(csv.DictReader(io.StringIO(result.content.decode("utf-8"))))
    assert [int(r["line"]) for r in rows] == list(range(1, 701))  # every line once, in order
    assert all(r["status"] == "unmatched" and r["house_number"] for r in rows)


async def test_a_restarted_service_finishes_an_abandoned_batch_without_being_asked(committed_client):
    import datetime as dt

    from sqlalchemy import select, update

    from services.placenames.batches.models import BatchJob
    from services.placenames.main import create_app

    client = committed_client
    await load_demo(client)
    body = "\n".join(f"鄞州区天童南路{n}号" for n in range(1, 401)).encode()
    job = (await client.post(BATCHES, content=body, headers=client.as_(PARTNER) | {"content-type": "text/csv"})).json()
    task = client.app.state.batch_tasks[job["id"]]
    task.cancel()  # the process dies before its worker is done
    await asyncio.gather(task, return_exceptions=True)
    async with client.app.state.database.sessionmaker() as session:
        await session.execute(update(BatchJob).where(BatchJob.id == job["id"]).values(
            lease_until=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), status="running"))
        await session.commit()
    # A new process starts on the same database; nobody polls the job.
    restarted = create_app(client.app.state.settings)
    async with restarted.router.lifespan_context(restarted):
        for _ in range(1200):
            async with restarted.state.database.sessionmaker() as session:
                status, processed = (await session.execute(select(BatchJob.status, BatchJob.processed_lines)
                                                           .where(BatchJob.id == job["id"]))).one()
            if status == "done":
                break
            await asyncio.sleep(0.05)
    assert (status, processed) == ("done", 400)

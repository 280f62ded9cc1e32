"""Batch standardisation: a GBK or UTF-8 CSV becomes a batch with progress, worked through by the
`batch.standardise` job of the worker processes; every line comes back in the result, a broken one with its
reason; another partner cannot see the batch; bad files are refused by field; a batch whose worker died is
taken up again from its first pending line."""

import csv
import datetime as dt
import io

from services.placenames.batches import service
from services.placenames.jobs import tasks
from services.placenames.scopes import JOBS_READ, JOBS_WRITE, PARSE
from shared.jobs import Worker
from tests.conftest import staff
from tests.jobs import run_jobs
from tests.placenames.helpers import API, YINZHOU_STAFF, load_demo, name_id

BATCHES = f"{API}/batch-standardizations"
JOBS = f"{API}/jobs"
PARTNER = staff("330200", PARSE, subject="partner:market-regulation")
OTHER = staff("330200", PARSE, subject="partner:post")
CITY = staff("330200", JOBS_READ, JOBS_WRITE, subject="staff:city")


async def run_batch_jobs(client) -> list[tuple[str, str]]:
    """Run the worker until nothing is due: the batch jobs it ran (its schedules, the feed's pruning, run too)."""
    return [job for job in await run_jobs(client.app, tasks) if job[0] == "batch.standardise"]


async def wait_done(client, job_id: str, principal=PARTNER) -> dict:
    """Run the worker until nothing is due, then the batch is done."""
    assert await run_batch_jobs(client) == [("batch.standardise", "succeeded")]
    job = (await client.get(f"{BATCHES}/{job_id}", headers=client.as_(principal))).json()
    assert job["status"] == "done" and job["percent"] == 100, job
    return job


async def test_a_gbk_file_with_bad_lines_comes_back_whole(committed_client):
    client = committed_client
    await load_demo(client)
    road = await name_id(client, "天童南路", "330212")
    address = (
        await client.post(
            f"{API}/addresses",
            headers=client.as_(YINZHOU_STAFF),
            json={"district_code": "330212", "road_id": road, "house_number": "588"},
        )
    ).json()
    lines = [
        "编号,地址",
        "a1,宁波市鄞州区天童南路588号",
        'a2,"鄞州区天童路五百八十八号"',
        'a3,"broken quote',
        "a4,",
        "a5,火星路1号",
        "a6," + "路" * 600,
        "a7,海曙区柳汀街23号",
        "a8,海曙区\x00柳汀街",
        "a9,海曙区洪塘中路500弄3号",
    ]
    body = ("\r\n".join(lines) + "\r\n").encode("gbk")
    response = await client.post(BATCHES, content=body, headers=client.as_(PARTNER) | {"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["encoding"] == "gbk" and job["total_lines"] == 9 and job["bad_lines"] == 4
    done = await wait_done(client, job["id"])
    assert done["percent"] == 100 and done["processed_lines"] == 9 and done["matched_lines"] == 2
    assert (await client.get(f"{BATCHES}/{job['id']}", headers=client.as_(OTHER))).status_code == 404
    result = await client.get(done["result_url"], headers=client.as_(PARTNER))
    assert result.status_code == 200 and result.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(result.content.decode("utf-8"))))
    assert [r["id"] for r in rows] == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["a1"]["status"] == "matched" and by_id["a1"]["code"] == address["code"]
    assert by_id["a2"]["code"] == address["code"] and by_id["a2"]["road"] == "天童南路"
    assert by_id["a3"]["status"] == "bad" and "broken CSV" in by_id["a3"]["reasons"]
    assert by_id["a4"]["status"] == "bad" and by_id["a6"]["status"] == "bad"
    assert by_id["a5"]["status"] == "unmatched"
    assert by_id["a7"]["status"] == "unmatched" and by_id["a7"]["house_number"] == "23"
    assert by_id["a8"]["status"] == "bad" and "control character" in by_id["a8"]["reasons"]
    assert (by_id["a9"]["road"], by_id["a9"]["lane"], by_id["a9"]["house_number"]) == ("洪塘中路", "500", "3")


async def test_a_line_break_inside_an_address_keeps_the_line_whole_and_later_lines_numbered(committed_client):
    """Only CR LF, LF and CR end a line: a form feed or U+2028 pasted into an address split it in two, and every
    later line came back numbered one on, apart from its id."""
    client = committed_client
    await load_demo(client)
    lines = [
        "编号,地址",
        "b1,海曙区柳汀\u2028街23号",
        "b2,海曙区柳汀街\x0c23号",
        "b3,海曙区\x85柳汀街23号",
        "b4,海曙区柳汀街23号",
    ]
    body = ("\n".join(lines) + "\n").encode("utf-8")
    response = await client.post(BATCHES, content=body, headers=client.as_(PARTNER) | {"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    assert response.json()["total_lines"] == 4
    done = await wait_done(client, response.json()["id"])
    rows = list(csv.DictReader(io.StringIO((await client.get(done["result_url"], headers=client.as_(PARTNER))).text)))
    assert [(r["line"], r["id"]) for r in rows] == [("2", "b1"), ("3", "b2"), ("4", "b3"), ("5", "b4")]
    assert rows[1]["status"] == rows[2]["status"] == "bad" and "control character" in rows[1]["reasons"]
    assert rows[3]["house_number"] == "23"


async def test_a_plain_utf8_list_and_refused_files(committed_client):
    client = committed_client
    await load_demo(client)
    headers = client.as_(PARTNER) | {"content-type": "text/csv"}
    plain_file = "鄞州区天童南路1号\n江北区人民路5号\n".encode("utf-8-sig")
    plain = await client.post(BATCHES, content=plain_file, headers=headers | {"Idempotency-Key": "upload-1"})
    assert plain.status_code == 202 and plain.json()["encoding"] == "utf-8" and plain.json()["total_lines"] == 2
    retried = await client.post(BATCHES, content=plain_file, headers=headers | {"Idempotency-Key": "upload-1"})
    assert retried.status_code == 202 and retried.json()["id"] == plain.json()["id"]  # one job, not two
    queued = await client.get(f"{BATCHES}/{plain.json()['id']}/result", headers=client.as_(PARTNER))
    assert queued.status_code == 409  # 409 until done, never a half result
    await wait_done(client, plain.json()["id"])  # one job for the two uploads
    for body, params, field in (
        (b"", {}, "body"),
        (b"\xff\xfe\x00\x81\xff", {}, "encoding"),
        ("鄞州区".encode("gbk"), {"encoding": "utf-8"}, "encoding"),
        (b"a\n" * 100_001, {}, "body"),
        (b"address\n", {}, "body"),
    ):
        response = await client.post(BATCHES, content=body, params=params, headers=headers)
        assert response.status_code == 422, (body[:20], response.text)
        assert response.json()["errors"][0]["field"] == field
    too_big = await client.post(BATCHES, content=b"x" * (20 * 1024 * 1024 + 1), headers=headers)
    assert too_big.status_code == 413
    assert (await client.get(f"{BATCHES}/{'0' * 32}", headers=client.as_(PARTNER))).status_code == 404
    assert (await client.get(f"{BATCHES}/nope", headers=client.as_(PARTNER))).status_code == 422
    assert (await client.post(BATCHES, content=b"x\n")).status_code == 401


async def test_a_batch_whose_worker_died_is_taken_up_again_from_its_first_pending_line(committed_client, moved_clock):
    client = committed_client
    await load_demo(client)
    body = "\n".join(f"鄞州区天童南路{n}号" for n in range(1, 701)).encode()  # two chunks
    job = (await client.post(BATCHES, content=body, headers=client.as_(PARTNER) | {"content-type": "text/csv"})).json()
    # A worker claims the job, does its first chunk and dies.
    dead = Worker(client.app.state.database, tasks, name="dead-worker", lease=dt.timedelta(seconds=60))
    claimed = await dead.claim()
    assert claimed["task"] == "batch.standardise" and claimed["args"] == {"batch_id": job["id"]}
    assert await service.standardise_next(client.app.state.database, job["id"]) == 71
    half = (await client.get(f"{BATCHES}/{job['id']}", headers=client.as_(PARTNER))).json()
    assert (half["status"], half["processed_lines"], half["percent"]) == ("running", 500, 71)
    assert await run_batch_jobs(client) == []  # its lease still holds
    moved_clock(dt.timedelta(minutes=2))  # its lease runs out
    done = await wait_done(client, job["id"])
    assert done["processed_lines"] == 700
    result = await client.get(done["result_url"], headers=client.as_(PARTNER))
    rows = list(csv.DictReader(io.StringIO(result.content.decode("utf-8"))))
    assert [int(r["line"]) for r in rows] == list(range(1, 701))  # every line once, in order
    assert all(r["status"] == "unmatched" and r["house_number"] for r in rows)
    followed = (await client.get(f"{JOBS}/{claimed['id']}", headers=client.as_(CITY))).json()
    assert (followed["status"], followed["progress"], followed["attempts"]) == ("succeeded", 100, 2)
    assert followed["result"] == {"batch_id": job["id"]}


async def test_city_staff_follow_and_cancel_batch_jobs_and_partners_do_not(committed_client):
    client = committed_client
    await load_demo(client)
    headers = client.as_(PARTNER) | {"content-type": "text/csv"}
    first = (await client.post(BATCHES, content="鄞州区天童南路1号\n".encode(), headers=headers)).json()
    second = (await client.post(BATCHES, content="江北区人民路5号\n".encode(), headers=headers)).json()
    listed = (await client.get(JOBS, params={"task": "batch.standardise"}, headers=client.as_(CITY))).json()["items"]
    assert [(j["status"], j["progress"]) for j in listed] == [("queued", 0), ("queued", 0)]
    cancelled = await client.post(f"{JOBS}/{listed[1]['id']}/cancel", headers=client.as_(CITY))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await run_batch_jobs(client) == [("batch.standardise", "succeeded")]
    assert (await client.get(f"{BATCHES}/{first['id']}", headers=client.as_(PARTNER))).json()["status"] == "done"
    assert (await client.get(f"{BATCHES}/{second['id']}", headers=client.as_(PARTNER))).json()["status"] == "queued"
    finished = await client.post(f"{JOBS}/{listed[0]['id']}/cancel", headers=client.as_(CITY))
    assert finished.status_code == 409
    assert (await client.get(JOBS, headers=client.as_(PARTNER))).status_code == 403
    assert (
        await client.post(f"{JOBS}/{listed[0]['id']}/cancel", headers=client.as_(staff("330200", JOBS_READ)))
    ).status_code == 403

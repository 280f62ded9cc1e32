"""One-day donation campaigns: payroll batches accepted whole or not at all, once, and participation."""

import asyncio

from stdnum.cn import uscc

from tests.charity.factories import API, CITY, HAISHU, days, get_project, project
from tests.conftest import Principal
from tests.races import next_request_succeeds

UNIT_PARTNER = Principal(
    subject="partner:yinzhou-finance", kind="partner", scopes=frozenset({"charity.campaigns:upload"})
)


def unit_code(n: int) -> str:
    body = f"11330212MB{n:07d}"  # 1: a government body (机关)
    return body + uscc.calc_check_digit(body)


async def campaign_with_units(client, headcounts=(4, 3)):
    created = await project(client, CITY)
    response = await client.post(
        f"{API}/campaigns",
        headers=client.as_(CITY),
        json={
            "name": "2026年慈善一日捐",
            "area_code": "330200",
            "project_id": created["id"],
            "starts_on": days(-1),
            "ends_on": days(30),
        },
    )
    assert response.status_code == 201, response.text
    campaign = response.json()
    units = []
    for n, headcount in enumerate(headcounts, start=1):
        unit = await client.post(
            f"{API}/campaigns/{campaign['id']}/units",
            headers=client.as_(CITY),
            json={
                "name": f"鄞州区第{n}机关",
                "credit_code": unit_code(n),
                "district_code": "330212",
                "headcount": headcount,
            },
        )
        assert unit.status_code == 201, unit.text
        units.append(unit.json())
    return created, campaign, units


def csv_of(*rows, header="employee_no,name,amount") -> bytes:
    return ("\n".join([header, *(",".join(r) for r in rows)]) + "\n").encode()


async def upload(
    client, campaign, unit, content: bytes, batch_no="B1", rows=None, total=None, principal=CITY, replaces=None
):
    params = {"batch_no": batch_no, "control_rows": rows, "control_total_fen": total}
    return await client.post(
        f"{API}/campaigns/{campaign['id']}/units/{unit['id']}/batches",
        content=content,
        params=params | ({"replaces": replaces} if replaces else {}),
        headers=client.as_(principal) | {"content-type": "text/csv"},
    )


async def test_a_batch_with_matching_controls_is_one_donation_and_counts_participants(client):
    created, campaign, (first, second) = await campaign_with_units(client)
    content = csv_of(("E001", "张三", "100"), ("E002", "李四", "50.5"), ("E003", "王五", "0.01"))
    response = await upload(client, campaign, first, content, rows=3, total=15_051)
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["row_count"], batch["total_fen"]) == (3, 15_051)
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 15_051
    donation = (await client.get(f"{API}/donations/{batch['donation_id']}", headers=client.as_(CITY))).json()
    assert (donation["donor_kind"], donation["donor_name"], donation["amount_fen"]) == (
        "company",
        "鄞州区第1机关",
        15_051,
    )
    # A second batch from the same unit (one more person, one again), uploaded by the unit itself.
    more = await upload(
        client,
        campaign,
        first,
        csv_of(("E004", "赵六", "20"), ("E001", "张三", "10")),
        "B2",
        rows=2,
        total=3_000,
        principal=UNIT_PARTNER,
    )
    assert more.status_code == 201, more.text
    await upload(client, campaign, second, csv_of(("X1", "", "30"), ("X2", "", "30")), rows=2, total=6_000)
    stats = (await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(CITY))).json()
    assert [(u["participants"], u["headcount"], u["rate_pct"], u["met"], u["donated_fen"]) for u in stats["units"]] == [
        (4, 4, 100.0, True, 18_051),
        (2, 3, 66.67, False, 6_000),
    ]
    assert (stats["participants"], stats["headcount"], stats["rate_pct"], stats["met"]) == (6, 7, 85.71, False)
    assert stats["target_pct"] == 95 and stats["donated_fen"] == 24_051
    indicators = [
        i for i in (await client.get(f"{API}/indicators")).json()["items"] if i["code"] == "campaign_participation"
    ]
    assert [(i["dimensions"], i["value"], i["unit"], i["target"]["value"], i["target"]["met"]) for i in indicators] == [
        ({"campaign_id": str(campaign["id"]), "campaign_name": "2026年慈善一日捐"}, 85.71, "percent", 95, False)
    ]
    assert (await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(HAISHU))).json()[
        "units"
    ] == []


async def test_a_batch_is_rejected_whole_and_nothing_is_written(client):
    created, campaign, (unit, _) = await campaign_with_units(client)
    good = csv_of(("E001", "张三", "100"), ("E002", "李四", "50"))
    wrong_total = await upload(client, campaign, unit, good, rows=2, total=15_001)
    assert wrong_total.status_code == 422 and wrong_total.json()["type"] == "/problems/batch-rejected"
    assert [e["field"] for e in wrong_total.json()["errors"]] == ["control_total_fen"]
    wrong_rows = await upload(client, campaign, unit, good, rows=3, total=15_000)
    assert [e["field"] for e in wrong_rows.json()["errors"]] == ["control_rows"]
    bad_rows = csv_of(
        ("E001", "张三", "100"), ("E001", "重复", "10"), ("E003", "", "1.234"), ("", "无工号", "5"), ("E005", "", "-3")
    )
    response = await upload(client, campaign, unit, bad_rows, rows=5, total=11_500)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [
        "line 3.employee_no",
        "line 4.amount",
        "line 5.employee_no",
        "line 6.amount",
    ]
    no_header = await upload(client, campaign, unit, b"E001,100\n", rows=1, total=10_000)
    assert no_header.status_code == 422 and no_header.json()["errors"][0]["field"] == "header"
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 0
    stats = (await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(CITY))).json()
    assert stats["participants"] == 0 and stats["donated_fen"] == 0
    # After all that, the corrected batch goes in under the same number.
    assert (await upload(client, campaign, unit, good, rows=2, total=15_000)).status_code == 201


async def test_a_payroll_number_with_a_control_character_is_refused_naming_its_line(client):
    """PostgreSQL cannot store a NUL in text: the batch is refused as bad input, not answered with a 500."""
    created, campaign, (unit, _) = await campaign_with_units(client)
    response = await upload(client, campaign, unit, csv_of(("E0\x0001", "张三", "100")), rows=1, total=10_000)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["line 2.employee_no"]
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 0


async def test_a_payroll_number_holding_a_line_break_or_a_tab_is_refused_and_blocks_no_later_batch(client):
    # The rows' digest writes a row as "number<TAB>fen" lines: a quoted number holding "<TAB>fen<LF>number" made one
    # row read as two, so a later, real batch of those two rows was refused as "already imported".
    created, campaign, (unit, _) = await campaign_with_units(client)
    for number in ("E001\t10000\nE002", "E0\r01", "E0\t01"):
        quoted = f'employee_no,name,amount\n"{number}",张三,100\n'.encode()
        response = await upload(client, campaign, unit, quoted, rows=1, total=10_000)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["line 2.employee_no"]
    two = await upload(client, campaign, unit, csv_of(("E001", "", "100"), ("E002", "", "100")), rows=2, total=20_000)
    assert two.status_code == 201, two.text
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 20_000


async def test_a_file_that_is_not_csv_is_refused_naming_its_line(client):
    """A lone carriage return, or a field past what csv reads, is bad input: a 422, never a 500."""
    created, campaign, (unit, _) = await campaign_with_units(client)
    lone_cr = await upload(client, campaign, unit, b"\r7\x15", rows=1, total=2)
    assert lone_cr.status_code == 422 and lone_cr.json()["errors"][0]["field"] == "header", lone_cr.text
    huge_field = await upload(client, campaign, unit, csv_of(("E001", "x" * 200_000, "100")), rows=1, total=10_000)
    assert huge_field.status_code == 422, huge_field.text
    assert huge_field.json()["errors"][0]["field"] == "line 2"
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 0


async def test_a_reupload_changes_nothing(client):
    created, campaign, (unit, _) = await campaign_with_units(client)
    content = csv_of(("E001", "张三", "100"), ("E002", "李四", "50"))
    first = await upload(client, campaign, unit, content, rows=2, total=15_000)
    again = await upload(client, campaign, unit, content, rows=2, total=15_000)
    assert first.status_code == 201 and again.status_code == 200 and again.json() == first.json()
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 15_000
    other_file = await upload(client, campaign, unit, csv_of(("E009", "", "1")), rows=1, total=100)
    assert other_file.status_code == 409 and other_file.json()["resource"] == f"payroll-batches/{first.json()['id']}"
    renamed = await upload(client, campaign, unit, content, "B-renamed", rows=2, total=15_000)
    assert renamed.status_code == 409 and "already imported as batch B1" in renamed.json()["detail"]
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 15_000


async def test_two_long_batch_numbers_alike_in_their_first_54_characters_are_two_batches(client):
    # A batch is recorded as a donation whose channel transaction is made of the unit and the batch number (up to
    # 60 characters) in a column of 64: cut to fit, these two were one transaction, the second batch refused.
    created, campaign, (unit, _) = await campaign_with_units(client)
    stem = "2026年12月慈善一日捐工资代扣批次" + "0" * 39  # 58 characters
    for n, (batch_no, employee) in enumerate(((stem + "-1", "E001"), (stem + "-2", "E002")), start=1):
        response = await upload(client, campaign, unit, csv_of((employee, "", "100")), batch_no, rows=1, total=10_000)
        assert response.status_code == 201, response.text
        assert response.json()["batch_no"] == batch_no
        assert (await get_project(client, created["id"], CITY))["raised_fen"] == n * 10_000
    again = await upload(client, campaign, unit, csv_of(("E002", "", "100")), stem + "-2", rows=1, total=10_000)
    assert again.status_code == 200, again.text
    stats = (await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(CITY))).json()
    assert (stats["participants"], stats["donated_fen"]) == (2, 20_000)


async def test_gb18030_files_with_chinese_headers_are_read(client):
    _, campaign, (unit, _) = await campaign_with_units(client)
    content = "工号,姓名,金额\r\nE001,张三,200.00\r\n".encode("gb18030")
    response = await upload(client, campaign, unit, content, rows=1, total=20_000)
    assert response.status_code == 201, response.text


async def test_campaigns_check_their_inputs(client):
    created, campaign, (unit, _) = await campaign_with_units(client)
    again = await client.post(
        f"{API}/campaigns/{campaign['id']}/units",
        headers=client.as_(CITY),
        json={"name": "同一单位", "credit_code": unit["credit_code"], "district_code": "330212", "headcount": 5},
    )
    assert again.status_code == 409
    code = unit_code(9)
    wrong_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    bad_code = await client.post(
        f"{API}/campaigns/{campaign['id']}/units",
        headers=client.as_(CITY),
        json={"name": "某单位", "credit_code": wrong_check, "district_code": "330212", "headcount": 5},
    )
    assert bad_code.status_code == 422 and bad_code.json()["errors"][0]["field"] == "credit_code"
    # A unit of a district the city does not have counts in no district's participation.
    nowhere = await client.post(
        f"{API}/campaigns/{campaign['id']}/units",
        headers=client.as_(CITY),
        json={"name": "某单位", "credit_code": unit_code(9), "district_code": "330299", "headcount": 5},
    )
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["field"] == "district_code", nowhere.text
    city_unit = await client.post(
        f"{API}/campaigns/{campaign['id']}/units",
        headers=client.as_(CITY),
        json={"name": "市级机关", "credit_code": unit_code(8), "district_code": "330200", "headcount": 5},
    )
    assert city_unit.status_code == 201, city_unit.text
    draft = await project(client, CITY, status="draft")
    response = await client.post(
        f"{API}/campaigns",
        headers=client.as_(CITY),
        json={
            "name": "x活动",
            "area_code": "330200",
            "project_id": draft["id"],
            "starts_on": days(0),
            "ends_on": days(1),
        },
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "project_id"
    outside = await client.post(
        f"{API}/campaigns",
        headers=client.as_(HAISHU),
        json={
            "name": "x活动",
            "area_code": "330200",
            "project_id": created["id"],
            "starts_on": days(0),
            "ends_on": days(1),
        },
    )
    assert outside.status_code == 403
    stranger = await upload(client, campaign, unit, csv_of(("E1", "", "1")), rows=1, total=100, principal=HAISHU)
    assert stranger.status_code == 404


async def test_the_same_payroll_resent_in_gbk_under_a_new_batch_number_is_refused_naming_the_first(client):
    """Another encoding, header language, line ends and row order: the same rows, so the same payroll."""
    created, campaign, (unit, other_unit) = await campaign_with_units(client)
    first = await upload(
        client,
        campaign,
        unit,
        csv_of(("E001", "张三", "100"), ("E002", "李四", "50.50")),
        "2026-12-A",
        rows=2,
        total=15_050,
    )
    assert first.status_code == 201, first.text
    resent = "工号,姓名,金额\r\nE002,李四,50.5\r\nE001,张三,100.00\r\n".encode("gbk")
    again = await upload(client, campaign, unit, resent, "2026-12-B", rows=2, total=15_050)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["resource"] == f"payroll-batches/{first.json()['id']}"
    assert "batch 2026-12-A" in again.json()["detail"]
    # Under its own number it is the same batch again: nothing changes.
    same_number = await upload(client, campaign, unit, resent, "2026-12-A", rows=2, total=15_050)
    assert same_number.status_code == 200 and same_number.json() == first.json()
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 15_050
    # Another unit may well give the same amounts under the same payroll numbers.
    assert (await upload(client, campaign, other_unit, resent, "2026-12-B", rows=2, total=15_050)).status_code == 201


async def test_a_correction_replaces_the_batch_it_names_refunding_it_in_the_same_transaction(client):
    created, campaign, (unit, _) = await campaign_with_units(client)
    wrong = (
        await upload(
            client, campaign, unit, csv_of(("E001", "张三", "100"), ("E002", "李四", "500")), "B1", rows=2, total=60_000
        )
    ).json()
    fixed = csv_of(("E001", "张三", "100"), ("E002", "李四", "50"))
    by_partner = await upload(
        client, campaign, unit, fixed, "B1-fix", rows=2, total=15_000, principal=UNIT_PARTNER, replaces="B1"
    )
    assert by_partner.status_code == 403, by_partner.text
    unknown = await upload(client, campaign, unit, fixed, "B1-fix", rows=2, total=15_000, replaces="B9")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "replaces"
    same_rows = await upload(
        client,
        campaign,
        unit,
        csv_of(("E002", "", "500"), ("E001", "", "100")),
        "B1-fix",
        rows=2,
        total=60_000,
        replaces="B1",
    )
    assert same_rows.status_code == 409 and same_rows.json()["resource"] == f"payroll-batches/{wrong['id']}"

    response = await upload(client, campaign, unit, fixed, "B1-fix", rows=2, total=15_000, replaces="B1")
    assert response.status_code == 201, response.text
    correction = response.json()
    assert correction["replaces_id"] == wrong["id"]
    totals = await get_project(client, created["id"], CITY)
    assert (totals["raised_fen"], totals["refunded_fen"]) == (15_000, 60_000)
    refunds = (await client.get(f"{API}/donations/{wrong['donation_id']}/refunds", headers=client.as_(CITY))).json()
    assert [r["amount_fen"] for r in refunds] == [60_000]
    stats = (await client.get(f"{API}/campaigns/{campaign['id']}/participation", headers=client.as_(CITY))).json()
    assert (stats["units"][0]["participants"], stats["units"][0]["donated_fen"]) == (2, 15_000)
    # The same correction sent again changes nothing; a second correction of B1 is refused, naming the first.
    replay = await upload(client, campaign, unit, fixed, "B1-fix", rows=2, total=15_000, replaces="B1")
    assert replay.status_code == 200 and replay.json() == correction
    twice = await upload(
        client, campaign, unit, csv_of(("E001", "张三", "10")), "B1-fix2", rows=1, total=1_000, replaces="B1"
    )
    assert twice.status_code == 409 and twice.json()["resource"] == f"payroll-batches/{correction['id']}"
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 15_000


async def test_the_same_payroll_sent_twice_at_once_under_two_numbers_is_imported_once(committed_client):
    client = committed_client
    created, campaign, (unit, _) = await campaign_with_units(client)
    rows = [(f"E{n:04d}", "", "10") for n in range(300)]
    utf8 = csv_of(*rows)
    gbk = csv_of(*rows, header="工号,姓名,金额").decode().replace("\n", "\r\n").encode("gbk")
    responses = await asyncio.gather(
        upload(client, campaign, unit, utf8, "B-utf8", rows=300, total=300_000),
        upload(client, campaign, unit, gbk, "B-gbk", rows=300, total=300_000),
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    imported = next(r.json() for r in responses if r.status_code == 201)
    assert all(r.json()["resource"] == f"payroll-batches/{imported['id']}" for r in responses if r.status_code == 409)
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 300_000
    await next_request_succeeds(upload(client, campaign, unit, csv_of(("E9999", "", "1")), "B-next", rows=1, total=100))
    assert (await get_project(client, created["id"], CITY))["raised_fen"] == 300_100


async def test_a_campaign_in_an_area_no_division_has_is_refused(client):
    created = await project(client, CITY)
    body = {"name": "2026年慈善一日捐", "project_id": created["id"], "starts_on": days(-1), "ends_on": days(30)}
    for code in ("330212001999", "330299"):  # digits of a community and a district the division tree does not have
        response = await client.post(f"{API}/campaigns", headers=client.as_(CITY), json=body | {"area_code": code})
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["area_code"], response.text

"""Search as you type (prefix, pinyin initials, typos; ranked), geocoding and reverse geocoding on geohash
cells, on both backends."""

import pytest

from tests.placenames.helpers import API, CITY_STAFF, YINZHOU_STAFF, load_demo, name_id

SEARCH = f"{API}/addresses/search"
YINZHOU = "330212"
# Points along 天童南路 (about 29.84 N, 121.545 E) a few tens of metres apart.
BASE_LAT, BASE_LON = 29.8400, 121.5450


@pytest.fixture
async def demo(client):
    await load_demo(client)
    road = await name_id(client, "天童南路", YINZHOU)
    codes = {}
    for i, number in enumerate(("5", "51", "512", "588")):
        response = await client.post(
            f"{API}/addresses",
            headers=client.as_(YINZHOU_STAFF),
            json={
                "district_code": YINZHOU,
                "road_id": road,
                "house_number": number,
                "latitude": BASE_LAT + i * 0.0003,
                "longitude": BASE_LON,
            },
        )
        assert response.status_code == 201, response.text
        codes[number] = response.json()["code"]
    room = await client.post(
        f"{API}/addresses",
        headers=client.as_(YINZHOU_STAFF),
        json={
            "district_code": YINZHOU,
            "road_id": road,
            "house_number": "588",
            "building": "3",
            "unit": "2",
            "room": "501",
        },
    )
    codes["588-3-2-501"] = room.json()["code"]
    client.codes = codes
    return client


async def items(client, q, **params):
    response = await client.get(SEARCH, params={"q": q} | params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_names_by_prefix_ranked_by_level(demo):
    found = await items(demo, "天童")
    assert [i["text"] for i in found[:2]] == ["天童北路", "天童南路"] or {i["text"] for i in found[:2]} == {
        "天童南路",
        "天童北路",
    }
    assert all(i["match"] == "prefix" for i in found[:2]) and found[0]["kind"] == "road"
    district_first = await items(demo, "鄞州")
    assert district_first[0]["kind"] == "district" and district_first[0]["standard_name"] == "鄞州区"


async def test_pinyin_initials_and_a_typo(demo):
    by_initials = await items(demo, "ttnl")
    assert by_initials[0]["text"] == "天童南路" and by_initials[0]["match"] == "pinyin"
    typo = await items(demo, "天同南路")  # 同 typed for 童
    assert typo[0]["standard_name"] == "天童南路" and typo[0]["match"] == "typo"
    old = await items(demo, "甬江")
    assert any(i["text"] == "甬江路" and i["standard_name"] == "江东北路" for i in old)


async def test_addresses_once_the_road_is_typed(demo):
    codes = demo.codes
    typed = await items(demo, "天童南路5")
    assert [i["ref"] for i in typed][:3] == [codes["5"], codes["51"], codes["512"]]
    assert typed[0]["match"] == "exact" and typed[1]["match"] == "prefix"
    exact = await items(demo, "鄞州区天童南路588号3幢")
    assert [i["ref"] for i in exact] == [codes["588-3-2-501"]]


async def test_geocode_and_reverse_geocode(demo):
    codes = demo.codes
    point = (await demo.get(f"{API}/geocode", params={"q": "宁波市鄞州区天童南路588号3幢2单元501室"})).json()
    assert point["match"]["code"] == codes["588-3-2-501"]
    assert (point["latitude"], point["longitude"], point["coordinate_level"]) == (
        pytest.approx(BASE_LAT + 0.0009),
        pytest.approx(BASE_LON),
        "house",
    )
    near = (
        await demo.get(f"{API}/reverse-geocode", params={"lat": BASE_LAT + 0.00031, "lon": BASE_LON, "radius_m": 20})
    ).json()
    assert [i["code"] for i in near["items"]] == [codes["51"]] and near["items"][0]["distance_m"] < 5
    wider = (
        await demo.get(
            f"{API}/reverse-geocode", params={"lat": BASE_LAT, "lon": BASE_LON, "radius_m": 500, "limit": 10}
        )
    ).json()
    assert [i["code"] for i in wider["items"]] == [codes[n] for n in ("5", "51", "512", "588")]
    nowhere = (await demo.get(f"{API}/reverse-geocode", params={"lat": 0, "lon": 0})).json()
    assert nowhere["items"] == []
    unknown = (await demo.get(f"{API}/geocode", params={"q": "火星路1号"})).json()
    assert unknown["match"] is None and unknown["latitude"] is None


async def test_bad_queries_are_refused_by_field(demo):
    for params, field in (
        ({"lat": 91, "lon": 121}, "lat"),
        ({"lat": 29, "lon": -181}, "lon"),
        ({"lat": "nan", "lon": 121}, "lat"),
        ({"lat": 29, "lon": 121, "radius_m": 5000}, "radius_m"),
        ({"lon": 121}, "lat"),
    ):
        response = await demo.get(f"{API}/reverse-geocode", params=params)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, params
    for q in ("", "路" * 101):
        response = await demo.get(SEARCH, params={"q": q})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "q"
    for q in ("😀", "!!!", "zzzzzz", "Ａ"):
        assert (await demo.get(SEARCH, params={"q": q})).status_code == 200


async def test_full_pinyin_with_or_without_spaces(demo):
    for typed in ("zhongshanxilu", "zhong shan xi lu", "ZhongShanXiLu", "zhongshanx"):
        found = await items(demo, typed)
        assert found[0]["text"] == "中山西路" and found[0]["match"] == "pinyin", typed
    partly = await items(demo, "tiantongn")
    assert partly[0]["text"] == "天童南路"
    assert (await items(demo, "ttnl"))[0]["text"] == "天童南路"  # initials as before
    assert [i["text"] for i in await items(demo, "zhongshan")][:3] == ["中山路", "中山东路", "中山西路"] or {
        i["text"] for i in await items(demo, "zhongshan", limit=3)
    } == {"中山路", "中山东路", "中山西路"}


def test_pinyin_keys_read_in_context_and_take_v_for_u():
    from services.placenames.search.index import full_pinyin_keys, initials

    assert full_pinyin_keys("重庆路") == {"chongqinglu"}  # 重 read chong before 庆
    assert full_pinyin_keys("绿岛路") == {"lvdaolu", "ludaolu"}
    assert initials("中山西路") == "zsxl"


async def test_addresses_of_a_road_name_shared_by_districts_come_in_order(demo):
    ids = [await name_id(demo, "人民路", district) for district in ("330205", "330281")]
    made = []
    for road, district in zip(ids, ("330205", "330281"), strict=False):
        for number in ("7", "3"):
            response = await demo.post(
                f"{API}/addresses",
                headers=demo.as_(CITY_STAFF),
                json={"district_code": district, "road_id": road, "house_number": number},
            )
            assert response.status_code == 201, response.text
            made.append(response.json()["code"])
    found = await items(demo, "人民路")
    assert [i["kind"] for i in found] == ["address"] * 4
    assert [i["text"][-2:] for i in found] == ["3号", "3号", "7号", "7号"]


async def test_reverse_geocoding_across_the_antimeridian(demo):
    for lon in (179.9999, -179.9999):
        response = await demo.get(f"{API}/reverse-geocode", params={"lat": 10, "lon": lon, "radius_m": 1000})
        assert response.status_code == 200 and response.json()["items"] == []


def test_bounding_box_holds_the_circle():
    import math

    from services.placenames import geo

    for lat, lon, r in ((29.84, 121.545, 100), (29.84, 121.545, 1000), (89.99, 10, 1000), (0, 179.999, 500)):
        south, west, north, east = geo.bounding_box(lat, lon, r)
        for bearing in range(0, 360, 15):
            dlat = r * math.cos(math.radians(bearing)) / 111_195
            dlon = r * math.sin(math.radians(bearing)) / (111_195 * max(math.cos(math.radians(lat)), 1e-9))
            p_lat, p_lon = lat + dlat, ((lon + dlon + 180) % 360) - 180
            if abs(p_lat) > 90:
                continue
            assert south <= p_lat <= north
            assert (west <= p_lon <= east) if west <= east else (p_lon >= west or p_lon <= east)


async def test_a_township_of_today_and_its_2016_row_are_one_suggestion(demo):
    found = [i for i in await items(demo, "百丈街道") if i["kind"] == "township"]
    assert [(i["text"], i["ref"]) for i in found] == [("百丈街道", "330212008")]


async def test_reverse_geocoding_sends_only_the_nearest_and_stays_exact(demo):
    """The database sorts by a flat distance and sends limit × 4 + 20 rows; the answer must be the exact
    nearest anyway, also when the rows sent end in a tie (then everything in the box is measured)."""
    road = await name_id(demo, "天童南路", YINZHOU)
    lat0, lon0 = 29.9000, 121.6000  # away from the demo fixture's points
    numbers = list(range(1000, 1030))
    codes = {}
    for n in numbers[7::2] + numbers[::-1][:5] + numbers:  # not in distance order
        if n in codes:
            continue
        step = (n - 1000) * 3 / 111_195  # 3 m apart going north
        response = await demo.post(
            f"{API}/addresses",
            headers=demo.as_(YINZHOU_STAFF),
            json={
                "district_code": YINZHOU,
                "road_id": road,
                "house_number": str(n),
                "latitude": lat0 + step,
                "longitude": lon0,
            },
        )
        assert response.status_code == 201, response.text
        codes[n] = response.json()["code"]
    near = (
        await demo.get(f"{API}/reverse-geocode", params={"lat": lat0, "lon": lon0, "radius_m": 1000, "limit": 2})
    ).json()["items"]
    assert [i["code"] for i in near] == [codes[1000], codes[1001]]
    # 30 addresses at one point: the 24 rows sent end in a tie, so all are measured; ties go by code.
    same = []
    for n in range(2000, 2030):
        response = await demo.post(
            f"{API}/addresses",
            headers=demo.as_(YINZHOU_STAFF),
            json={
                "district_code": YINZHOU,
                "road_id": road,
                "house_number": str(n),
                "latitude": 29.95,
                "longitude": 121.65,
            },
        )
        same.append(response.json()["code"])
    tied = (
        await demo.get(f"{API}/reverse-geocode", params={"lat": 29.95, "lon": 121.65, "radius_m": 50, "limit": 1})
    ).json()["items"]
    assert [i["code"] for i in tied] == [min(same)]


def test_the_cells_cover_every_point_of_the_circle():
    import math
    import random

    from services.placenames import geo

    rng = random.Random(3)
    for _ in range(400):
        lat, lon = rng.uniform(-85, 85), rng.choice([rng.uniform(-180, 180), 179.9995, -179.9995])
        radius = rng.choice([10, 100, 300, 1000])
        cells = geo.cells_covering(lat, lon, radius)
        assert (len({len(c) for c in cells}) == 1 and len(cells) <= geo.MAX_CELLS) or len(cells[0]) == 5
        for _ in range(10):
            bearing, d = rng.uniform(0, 2 * math.pi), rng.uniform(0, radius)
            p_lat = lat + d * math.cos(bearing) / 111_195
            p_lon = ((lon + d * math.sin(bearing) / (111_195 * math.cos(math.radians(lat))) + 180) % 360) - 180
            if geo.distance_m(lat, lon, p_lat, p_lon) <= radius:
                assert geo.encode(p_lat, p_lon, len(cells[0])) in cells
    assert len(geo.cells_covering(29.86, 121.53, 1000)[0]) == 6  # not 9 cells of 4.9 km

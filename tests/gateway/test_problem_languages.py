"""Problems through the front door: Chinese for people unless they ask for English, the same codes for programs.

The mini-program shows `title`, `detail` and each field's `message` to older people; programs branch on `type`
and `code`, which never change with the language. The gateway's own problems (a bad token, a service that does
not answer, a path with no API) follow the same rule as the services'. The token endpoint keeps RFC 6749's shape.
"""

import httpx

from tests.gateway.conftest import bearer

ELDERS = "/api/eldercare/v1/elders"
# Valid in its form and its birth date, with a wrong check character (the right one is 4).
WRONG_CHECK_CHARACTER = "330203195503150015"


async def send(gateway, method: str, path: str, accept_language: str | None, **options) -> httpx.Response:
    """A request with the given Accept-Language, or none at all (the test client asks for English otherwise)."""
    request = gateway.build_request(method, path, **options)
    del request.headers["accept-language"]
    if accept_language is not None:
        request.headers["accept-language"] = accept_language
    return await gateway.send(request)


def problem(response: httpx.Response, status: int, language: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["content-language"] == language
    assert "Accept-Language" in response.headers["vary"]
    return response.json()


async def test_chinese_by_default_english_on_request_and_the_same_code_in_both(gateway):
    staff = bearer("staff-yinzhou", gateway.settings)
    chinese = problem(await send(gateway, "GET", f"{ELDERS}/987654321", None, headers=staff), 404, "zh-CN")
    english = problem(await send(gateway, "GET", f"{ELDERS}/987654321", "en", headers=staff), 404, "en")
    assert chinese["title"] == "没有找到" and english["title"] == "Not found"
    assert "987654321" in chinese["detail"] and "没有找到" in chinese["detail"]
    assert english["detail"].startswith("no ") and "987654321" in english["detail"]
    for body in (chinese, english):
        assert body["type"] == "/problems/not-found" and body["code"] == "not_found"


async def test_a_field_error_names_the_field_in_both_languages(gateway):
    staff = bearer("staff-yinzhou", gateway.settings)
    body = {"id_number": "12345", "name": "王阿娣", "address": "百丈街道 1 号", "area_code": "330212008"}
    chinese = problem(await send(gateway, "POST", ELDERS, "zh-CN", headers=staff, json=body), 422, "zh-CN")
    english = problem(await send(gateway, "POST", ELDERS, "en", headers=staff, json=body), 422, "en")
    [zh] = chinese["errors"]
    [en] = english["errors"]
    for entry in (zh, en):
        assert entry["field"] == "id_number" and entry["location"] == "body"
        assert entry["label_zh"] == "身份证号码" and entry["label_en"] == "id number"
        assert entry["code"] == "string_too_short"
    assert zh["message"] == "至少填写 18 个字"
    assert en["message"] == "must have at least 18 characters"
    assert chinese["title"] == "填写的内容有误" and english["title"] == "The request has invalid fields"
    assert chinese["detail"] == "身份证号码：至少填写 18 个字"
    assert english["detail"] == "id_number: must have at least 18 characters"
    assert chinese["code"] == english["code"] == "invalid_input"


async def test_a_field_the_service_checks_itself_is_named_in_both_languages_too(gateway):
    staff = bearer("staff-yinzhou", gateway.settings)
    body = {"id_number": WRONG_CHECK_CHARACTER, "name": "王阿娣", "address": "百丈街道 1 号", "area_code": "330212008"}
    chinese = problem(await send(gateway, "POST", ELDERS, None, headers=staff, json=body), 422, "zh-CN")
    english = problem(await send(gateway, "POST", ELDERS, "en", headers=staff, json=body), 422, "en")
    assert (
        chinese["errors"][0]["label_zh"] == "身份证号码" and chinese["errors"][0]["message"] == "校验码不对（GB 11643）"
    )
    assert english["errors"][0]["message"] == "the check character does not match (GB 11643)"
    assert chinese["code"] == english["code"] and chinese["errors"][0]["code"] == english["errors"][0]["code"]


async def test_the_language_follows_q_values_and_anything_else_is_chinese(gateway):
    staff = bearer("staff-yinzhou", gateway.settings)
    cases = {
        "fr-FR, de;q=0.8": "zh-CN",  # nothing we have: Chinese
        "en-GB,en;q=0.9": "en",
        "zh-CN;q=0.4, en;q=0.9": "en",  # the higher q wins, not the first listed
        "en;q=0.2, zh-TW;q=0.8": "zh-CN",  # any Chinese gets the Chinese there is
        "en;q=0": "zh-CN",  # q=0 is "not English"
        "*": "zh-CN",
        "this is ; not = a header": "zh-CN",
    }
    for header, language in cases.items():
        response = await send(gateway, "GET", f"{ELDERS}/987654321", header, headers=staff)
        body = problem(response, 404, language)
        assert body["title"] == ("Not found" if language == "en" else "没有找到"), header


async def test_the_gateways_own_problems_speak_the_callers_language(gateway):
    # A bad token, refused by the gateway before any service is called.
    refused = problem(await send(gateway, "GET", ELDERS, None, headers={"Authorization": "Bearer x.y.z"}), 401, "zh-CN")
    assert refused["title"] == "需要登录" and refused["code"] == "unauthorized"
    # A service that does not answer in time (assistance hangs in this fixture).
    staff = bearer("staff-yinzhou", gateway.settings)
    timeout = problem(await send(gateway, "GET", "/api/assistance/v1/leads", None, headers=staff), 504, "zh-CN")
    assert (
        timeout["title"] == "服务响应超时" and "assistance" in timeout["detail"] and "秒内没有响应" in timeout["detail"]
    )
    english = problem(await send(gateway, "GET", "/api/assistance/v1/leads", "en", headers=staff), 504, "en")
    assert english["title"] == "Upstream timed out"
    assert timeout["code"] == english["code"] == "gateway_timeout"
    # A path with no API behind it.
    nowhere = problem(await send(gateway, "GET", "/api/nothing/v1/here", None), 404, "zh-CN")
    assert nowhere["detail"].startswith("没有这个接口") and nowhere["code"] == "not_found"


async def test_the_token_endpoint_keeps_its_oauth_shape_whatever_the_language(gateway):
    form = {"grant_type": "client_credentials", "client_id": "eldercare", "client_secret": "wrong"}
    response = await send(gateway, "POST", "/api/auth/v1/token", "zh-CN", data=form)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == "invalid_client"
    assert body["error_description"].isascii()  # RFC 6749 §5.2: ASCII only

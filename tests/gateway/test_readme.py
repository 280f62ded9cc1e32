"""What the README tells a newcomer holds: the demo credentials work, calling a service directly is as it says,
and every link leads to a file of this repository."""

import re

import httpx

from gateway.seed import DEMO_PASSWORD, DEMO_STAFF, dev_client_secret
from services import SERVICES
from shared.settings import ROOT
from tests.gateway.conftest import bearer

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_link_of_the_readme_is_a_file_of_the_repository():
    targets = re.findall(r"\]\(([^)#]+)\)", README) + re.findall(r"`(\.\./[^`]+)`", README)
    assert targets
    for target in targets:
        if target.startswith(("http://", "https://")):
            continue
        assert not target.startswith("../") and (ROOT / target).exists(), target


async def test_the_readmes_demo_credentials_are_those_the_seed_makes(auth_gateway):
    assert f"`{DEMO_PASSWORD}`" in README
    assert all(f"`{username}`" in README for username, *_ in DEMO_STAFF)
    client_id, secret = re.search(r"-d client_id=(\S+) -d client_secret=(\S+)", README).groups()
    assert secret == dev_client_secret(client_id) and client_id in SERVICES
    template = re.search(r"the secret `(dev-client-secret-<service>[^`]*)`", README).group(1)
    for name in SERVICES:
        answer = await auth_gateway.post(
            "/api/auth/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": name,
                "client_secret": template.replace("<service>", name),
            },
        )
        assert answer.status_code == 200, (name, answer.text)
    staff = await auth_gateway.post(
        "/api/auth/v1/staff-sign-ins", json={"username": "city-demo", "password": DEMO_PASSWORD}
    )
    assert staff.status_code == 200, staff.text


async def test_a_service_called_directly_with_a_bearer_token_answers_401_as_the_readme_says(
    upstream_eldercare, gateway
):
    assert "answers\n401" in README or "answers 401" in README
    async with httpx.AsyncClient(base_url=upstream_eldercare) as direct:
        answer = await direct.get("/api/eldercare/v1/elders", headers=bearer("staff-city", gateway.settings))
    assert answer.status_code == 401
    through = await gateway.get("/api/eldercare/v1/elders", headers=bearer("staff-city", gateway.settings))
    assert through.status_code == 200

"""A number larger than any column holds is the caller's mistake: a 422 naming the field, never a 500."""

from tests.conftest import client_for, service_database, staff

CLERK = staff("330200", "charity.projects:read")


async def test_an_id_too_large_for_the_database_is_a_422_naming_it(backend, db_dir):
    async for client in client_for("charity", await service_database("charity", backend, db_dir)):
        # Past 8 bytes, and (PostgreSQL's integer column) past 4; SQLite's integers all have 8.
        for too_large in ("99999999999999999999", *(["3000000000"] if backend == "postgresql" else [])):
            response = await client.get(f"/api/charity/v1/projects/{too_large}", headers=client.as_(CLERK))
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"] == [{"field": "project_id", "location": "path", "message": "too large"}]

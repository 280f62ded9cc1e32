"""The compose file is valid against the compose specification (no Docker engine needed)."""

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from shared.settings import ROOT

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def test_compose_file_validates_against_the_compose_spec():
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_is_migrated_before_it_starts_and_has_a_health_check():
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())["services"]
    for service in ("eldercare", "assistance", "charity", "placenames"):
        assert compose[service]["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
        assert "readyz" in " ".join(compose[service]["healthcheck"]["test"])
        assert compose[service]["environment"][f"{service.upper()}_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert compose["gateway"]["depends_on"]["gateway-migrate"]["condition"] == "service_completed_successfully"
    gateway = compose["gateway"]
    assert all(
        gateway["depends_on"][s]["condition"] == "service_healthy"
        for s in ("eldercare", "assistance", "charity", "placenames")
    )
    assert all("ports" not in compose[s] for s in ("eldercare", "assistance", "charity", "placenames"))


def test_each_service_can_be_rebuilt_and_restarted_alone():
    """`docker compose up -d --build eldercare` touches eldercare and its migration job only: no service
    depends on another, each job migrates with its own service's image, and everything restarts itself."""
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())["services"]
    processes = ("eldercare", "assistance", "charity", "placenames", "gateway")
    for name in processes:
        job = compose[f"{name}-migrate"]
        assert job["image"] == compose[name]["image"] and job["command"] == ["migrate"]
        assert job["restart"] == "no"
        assert compose[name]["restart"] == "unless-stopped"
        if name != "gateway":
            assert not set(compose[name]["depends_on"]) & set(processes), f"{name} depends on another process"


def test_every_service_has_a_worker_with_its_image_and_settings_after_its_migration():
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())["services"]
    for service in ("eldercare", "assistance", "charity", "placenames"):
        worker = compose[f"{service}-worker"]
        assert worker["command"] == ["worker"] and worker["image"] == compose[service]["image"]
        assert worker["environment"] == compose[service]["environment"]
        assert worker["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
        assert "probe-worker" in worker["healthcheck"]["test"] and "ports" not in worker


def test_bootstrap_runs_once_after_the_gateway_migration_and_the_services_get_their_client_secrets():
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())["services"]
    job = compose["bootstrap"]
    assert job["image"] == compose["gateway"]["image"] and job["restart"] == "no"
    assert job["command"] == ["bootstrap", "--from-env"]  # never a secret made and printed to the log
    assert job["depends_on"]["gateway-migrate"]["condition"] == "service_completed_successfully"
    assert compose["gateway"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    assert job["environment"]["GATEWAY_DATABASE_URL"] == compose["gateway"]["environment"]["GATEWAY_DATABASE_URL"]
    for service in ("eldercare", "assistance", "charity", "placenames"):
        variable = f"{service.upper()}_CLIENT_SECRET"
        required = f"${{{variable}:?set {variable}}}"
        assert compose[service]["environment"][variable] == job["environment"][variable] == required
        assert compose[service]["environment"][f"{service.upper()}_GATEWAY_URL"] == "http://gateway:8000"


def test_the_services_that_hold_personal_data_get_the_pii_keys_and_only_they():
    """Production refuses to encrypt or migrate personal data without PII_KEYS and PII_INDEX_KEY (shared/pii.py):
    the first real `docker compose up` (./dev rehearse) failed its migrations for want of them."""
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("eldercare", "assistance", "charity"):
        for process in (name, f"{name}-migrate", f"{name}-worker"):
            assert {"PII_KEYS", "PII_INDEX_KEY"} <= set(compose[process]["environment"]), process
    for name in ("gateway", "placenames"):
        assert "PII_KEYS" not in compose[name]["environment"], name

"""The Kubernetes manifests: each overlay renders and validates strictly (offline, bundled schemas), and
every process has what a zero-downtime, one-at-a-time upgrade needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.k8s.render import dump, render
from services import SERVICES
from services.manage import DATABASES
from shared.settings import ROOT

KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
OVERLAYS = ["dev", "prod"]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(ROOT / "deploy" / "k8s" / "overlays" / request.param)


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def selects(policy: dict, labels: dict) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def test_rendered_manifests_validate_strictly(overlay, tmp_path):
    name, objects = overlay
    path = tmp_path / f"{name}.yaml"
    path.write_text(dump(objects))
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "--quiet", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_strict_validation_rejects_a_misspelt_field(tmp_path):
    """The check above would be worthless if unknown fields passed: one misspelling must fail it."""
    objects = render(ROOT / "deploy" / "k8s" / "overlays" / "prod")
    find(objects, "Deployment", "gateway")["spec"]["strategy"]["rollingUpdate"]["maxUnavailabel"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(dump(objects))
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "--quiet", str(path)], capture_output=True, text=True
    )
    assert result.returncode != 0


@pytest.mark.parametrize("process", DATABASES)
def test_every_process_has_probes_resources_drain_and_zero_downtime_rollout(overlay, process):
    _, objects = overlay
    deployment = find(objects, "Deployment", process)
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"].startswith(f"minzheng/{process}:")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "sleep" in " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    # The pause plus uvicorn's 20 s graceful shutdown must fit in the grace period.
    assert pod["terminationGracePeriodSeconds"] >= 10 + 20

    service = find(objects, "Service", process)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert find(objects, "HorizontalPodAutoscaler", process)["spec"]["scaleTargetRef"]["name"] == process
    budget = find(objects, "PodDisruptionBudget", process)
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("process", DATABASES)
def test_every_database_is_migrated_by_a_job_that_runs_before_the_rollout(overlay, process):
    _, objects = overlay
    job = find(objects, "Job", f"{process}-migrate")
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["spec"]["parallelism"] == 1  # Alembic takes no lock: one migrator at a time
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    # The same image and settings as the process it migrates.
    (served,) = find(objects, "Deployment", process)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == served["image"] and container["envFrom"] == served["envFrom"]


@pytest.mark.parametrize("process", DATABASES)
def test_network_policies_admit_services_only_from_the_gateway_and_databases_only_from_their_service(overlay, process):
    _, objects = overlay
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = find(objects, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"]["podSelector"] == {} and "ingress" not in deny["spec"]

    pod_labels = find(objects, "Deployment", process)["spec"]["template"]["metadata"]["labels"]
    own = [p for p in policies if p["spec"]["podSelector"] != {} and selects(p, pod_labels)]
    assert own, f"no NetworkPolicy selects {process}'s pods"
    sources = [peer for p in own for rule in p["spec"]["ingress"] for peer in rule["from"]]
    if process in SERVICES:
        pods_allowed = [s["podSelector"]["matchLabels"] for s in sources if "podSelector" in s]
        assert pods_allowed == [{"app.kubernetes.io/name": "gateway", "app.kubernetes.io/component": "api"}]
        assert all(
            s["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
            for s in sources
            if "podSelector" not in s
        )

    database = find(objects, "NetworkPolicy", f"{process}-database-ingress")
    assert database["spec"]["podSelector"]["matchLabels"] == {"minzheng/database": process}
    (rule,) = database["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": process}}}]


def test_no_secret_values_are_committed_and_the_ingress_leads_to_the_gateway(overlay):
    name, objects = overlay
    assert not [o for o in objects if o["kind"] == "Secret"]
    for obj in objects:
        for container in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            assert all("value" not in e for e in container.get("env", [])), "secrets only by reference"
    ingress = find(objects, "Ingress", "minzheng")
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"gateway"}
    # /metrics, /healthz and /readyz are for the cluster's eyes only.
    paths = [p for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    public = [p["path"] for p in paths]
    assert "/api" in public and not [p for p in public if p in ("/metrics", "/healthz", "/readyz")]
    # The landing answer and the API description (token holders only in production, the gateway's rule),
    # each exactly that path: never a catch-all that would publish the cluster-only routes.
    assert {(p["path"], p["pathType"]) for p in paths if p["path"] in ("/", "/openapi.json")} == {
        ("/", "Exact"),
        ("/openapi.json", "Exact"),
    }
    if name == "prod":
        assert ingress["spec"]["tls"][0]["secretName"] == "minzheng-tls"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_worker_deployment_with_its_image_settings_and_a_liveness_probe(overlay, service):
    """Jobs run in worker pods, never in API pods: one Deployment per service, the same image and settings
    as the API, no Service in front of it, and a liveness probe that sees a stuck loop."""
    _, objects = overlay
    worker = find(objects, "Deployment", f"{service}-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    (served,) = find(objects, "Deployment", service)["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    assert container["image"] == served["image"] and container["envFrom"] == served["envFrom"]
    assert container["livenessProbe"]["exec"]["command"][-1] == "probe-worker"
    assert worker["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "worker"
    assert not any(o["kind"] == "Service" and selects_service(o, labels) for o in objects)
    # It reaches its own database: the database's policy admits every pod of the service.
    database = find(objects, "NetworkPolicy", f"{service}-database-ingress")
    assert all(
        labels.get(k) == v
        for rule in database["spec"]["ingress"]
        for peer in rule["from"]
        for k, v in peer["podSelector"]["matchLabels"].items()
    )


def selects_service(service: dict, labels: dict) -> bool:
    wanted = service["spec"].get("selector", {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def test_bootstrap_runs_after_the_gateway_migration_with_every_secret_by_reference(overlay):
    """The first administrator and the services' clients: the gateway's image and settings, in the wave after
    its migration, with each service's client secret read from the Secret that service's pods read."""
    _, objects = overlay
    job = find(objects, "Job", "gateway-bootstrap")
    migrate = find(objects, "Job", "gateway-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == migrate["metadata"]["annotations"]["argocd.argoproj.io/hook"]
    assert int(annotations["argocd.argoproj.io/sync-wave"]) > int(
        migrate["metadata"]["annotations"].get("argocd.argoproj.io/sync-wave", 0)
    )
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["bootstrap", "--from-env"]  # never a secret made and printed to the log
    (served,) = find(objects, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == served["image"] and container["envFrom"] == served["envFrom"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    for name in SERVICES:
        variable = f"{name.upper()}_CLIENT_SECRET"
        assert refs[variable] == {"name": f"{name}-secrets", "key": variable}
    assert refs["BOOTSTRAP_ADMIN_PASSWORD"]["optional"] is True  # deleted once the administrator has signed in

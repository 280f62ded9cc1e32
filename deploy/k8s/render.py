"""Render a kustomization to one multi-document YAML stream, without the kustomize binary.

PyPI has no kustomize renderer (the `kustomize` package there builds manifests from Python code), and CI
has no Go binaries, so this implements exactly the subset of kustomize our kustomizations use, with
kustomize's meaning:
  resources   files (multi-document) and directories holding a kustomization.yaml, in order
  namespace   set on every namespaced object
  images      {name, newName?, newTag?} on containers' image fields
  patches     JSON 6902 operations (add, replace, remove) on every object matching target {kind, name?}
Anything else in a kustomization is refused, so the output never silently differs from kustomize's.

    python deploy/k8s/render.py deploy/k8s/overlays/prod > prod.yaml
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "IngressClass",
    "PriorityClass",
}


def render(directory: str | Path) -> list[dict]:
    directory = Path(directory)
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}: render.py does not implement {sorted(unknown)}; use kustomize")
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            objects.extend(render(path))
        else:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for patch in kustomization.get("patches", []):
        operations = yaml.safe_load(patch["patch"])
        matched = [o for o in objects if _matches(o, patch["target"])]
        if not matched:
            raise ValueError(f"{directory}: patch target {patch['target']} matches nothing")
        for obj in matched:
            for operation in operations:
                _apply(obj, operation)
    for image in kustomization.get("images", []):
        for obj in objects:
            _set_image(obj, image)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    return objects


def _matches(obj: dict, target: dict) -> bool:
    return obj.get("kind") == target["kind"] and target.get("name", obj["metadata"]["name"]) == obj["metadata"]["name"]


def _apply(obj: dict, operation: dict) -> None:
    """One RFC 6902 operation; paths use RFC 6901 escapes (~1 for /, ~0 for ~)."""
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].lstrip("/").split("/")]
    node = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    op = operation["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            node[index] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del node[index]
        else:
            raise ValueError(f"unsupported patch op {op}")
        return
    if op in ("replace", "remove") and last not in node:
        raise ValueError(f"{operation['path']} does not exist in {obj['kind']}/{obj['metadata']['name']}")
    if op in ("add", "replace"):
        node[last] = copy.deepcopy(operation["value"])
    elif op == "remove":
        del node[last]
    else:
        raise ValueError(f"unsupported patch op {op}")


def _set_image(obj: dict, image: dict) -> None:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
        name, _, tag = container["image"].partition(":")
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def dump(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(dump(render(sys.argv[1])))

"""Airbyte's earlier ConfigCat connector (PyPI `airbyte-source-configcat`), run for comparison.

Its wheel is downloaded with `pip download --no-deps` into `output/upstream/` (git-ignored; the
upstream code is never committed here) and its `manifest.yaml` is run by the same stock runtime
against the same emulator. The package was built for airbyte-cdk 1.0.0's `YamlDeclarativeSource`,
so a copy of its manifest is patched at run time, and every patch is listed in the printout:

* `url_base` is hard-coded to https://api.configcat.com/v1: it is pointed at the emulator;
* the spec lives in the package's `spec.yaml`, not in the manifest, and the stock runtime only
  reads a manifest's `spec`: it is copied in as a `Spec` component.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tooling import runtime

PACKAGE = "airbyte-source-configcat"
CACHE = runtime.REPO_ROOT / "output" / "upstream"
# Endpoints of its five streams (organization members through the v1 endpoint).
V1_MEMBERS = "/v1/organizations/{organizationId}/members"
V2_MEMBERS = "/v2/organizations/{organizationId}/members"


@dataclass
class Upstream:
    source: str  # where the manifest came from, for the printout
    manifest: dict[str, Any]  # as published
    spec: dict[str, Any] | None  # the package's spec.yaml, if any
    patches: list[str] = field(default_factory=list)


def latest_version() -> str:
    """The newest version on the package index, from `pip index versions`."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", PACKAGE, "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in result.stdout.splitlines():
        if line.startswith(PACKAGE):
            return line.split("(", 1)[1].split(")", 1)[0]
    raise RuntimeError(f"pip index versions {PACKAGE}: no version in {result.stdout!r}")


def download(version: str | None = None) -> Path:
    """The package's wheel in output/upstream/, downloaded without its dependencies if absent."""
    version = version or latest_version()
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob(f"airbyte_source_configcat-{version}-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--quiet",
                f"{PACKAGE}=={version}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
        wheels = sorted(CACHE.glob(f"airbyte_source_configcat-{version}-*.whl"))
    return wheels[-1]


def load(path: Path | None) -> Upstream:
    """From a wheel, a manifest.yaml (with spec.yaml beside it, if any), or None: download."""
    if path is None:
        path = download()
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            names = wheel.namelist()
            manifest_name = next(name for name in names if name.endswith("/manifest.yaml"))
            spec_name = manifest_name.replace("manifest.yaml", "spec.yaml")
            manifest = yaml.safe_load(wheel.read(manifest_name))
            spec = yaml.safe_load(wheel.read(spec_name)) if spec_name in names else None
        return Upstream(f"{path.name}:{manifest_name}", manifest, spec)
    spec_path = path.with_name("spec.yaml")
    spec = yaml.safe_load(spec_path.read_text()) if spec_path.exists() else None
    return Upstream(str(path), yaml.safe_load(path.read_text()), spec)


def _url_bases(node: Any, found: list[dict]) -> list[dict]:
    if isinstance(node, dict):
        if isinstance(node.get("url_base"), str):
            found.append(node)
        for value in node.values():
            _url_bases(value, found)
    elif isinstance(node, list):
        for value in node:
            _url_bases(value, found)
    return found


def patched(upstream: Upstream, base_url: str) -> tuple[dict[str, Any], list[str]]:
    """A copy of the manifest that the stock runtime can run against `base_url`, and the patches."""
    manifest = yaml.safe_load(yaml.safe_dump(upstream.manifest))
    patches = []
    for requester in _url_bases(manifest, []):
        old = requester["url_base"]
        if old.startswith("{{"):
            continue  # read from the config: the bench passes base_url
        path = "/" + old.split("://", 1)[-1].split("/", 1)[1] if old.count("/") > 2 else ""
        requester["url_base"] = base_url + path
        patches.append(f"url_base {old} -> <emulator>{path} (hard-coded in the manifest)")
    if "spec" not in manifest and upstream.spec:
        manifest["spec"] = {
            "type": "Spec",
            "documentation_url": upstream.spec.get("documentationUrl", ""),
            "connection_specification": upstream.spec["connectionSpecification"],
        }
        patches.append(
            "spec copied in from the package's spec.yaml (the stock runtime reads only the"
            " manifest; without it: 'Unable to find spec.yaml or spec.json in the package')"
        )
    return manifest, patches


def config_keys(upstream: Upstream) -> list[str]:
    spec = (upstream.manifest.get("spec") or {}).get("connection_specification") or (
        (upstream.spec or {}).get("connectionSpecification") or {}
    )
    return sorted((spec.get("properties") or {}).keys())

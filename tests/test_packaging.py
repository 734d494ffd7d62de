"""Packaging stays true: the Dockerfile, the registry and MCPB manifests, the client fragments and
the Kubernetes objects agree with the code and carry the package version, and the wheel and sdist
build.

No Docker engine is assumed: the Dockerfile is checked statically, and its build stage is emulated
by building the wheel from exactly the files it copies and exporting the locked requirements it
installs. PyYAML is not a dependency, so the Kubernetes YAML is read by a small loader for the
block-style subset those files use (checked against PyYAML when it happens to be installed).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest

from sharkfin_mcp._snippets import snippet
from sharkfin_mcp._version import __version__
from sharkfin_mcp.server import Settings, build_server
from sharkfin_mcp.server._catalog import _first_sentence
from sharkfin_mcp.server._config import DEFAULT_URL, choices_of, options

ROOT = Path(__file__).resolve().parent.parent
ENV_VARS = {option.env for _, _, option in options() if option.env}
"""Every SHARKFIN_* variable the server reads (declared once in server/_config.py)."""
MANIFESTS = ROOT / "manifests"
KUBERNETES = MANIFESTS / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
SERVER_NAME = "io.github.work-fort/sharkfin-mcp"
SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
HTTP_PORT = 8765
CLIENT_FILES = {
    "claude-desktop": "claude-desktop.json",
    "cursor": "cursor.json",
    "vscode": "vscode.json",
    "claude-code": "claude-code.sh",
}
HTTP_ONLY_ENV = {"SHARKFIN_MCP_TOKEN", "SHARKFIN_MCP_TOKEN_FILE"}


# --- a loader for the block-style YAML subset of the Kubernetes manifests ----------------------

_KEY = re.compile(
    r"""^(?P<key>"[^"]*"|'[^']*'|[^\s"'\[\]{}#,:-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(?P<rest>.+))?$"""
)
_YAML11_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str) -> Any:
    text = text.strip()
    if text[:1] in ('"', "[", "{"):
        return json.loads(text)  # flow collections and double quotes: the JSON-compatible subset
    if text[:1] == "'":
        if not text.endswith("'") or len(text) < 2:
            raise ValueError(f"unterminated quote: {text!r}")
        return text[1:-1].replace("''", "'")
    if text.lower() in _YAML11_BOOLS:
        return _YAML11_BOOLS[text.lower()]
    if text in ("null", "~", "Null", "NULL"):
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?", text):
        return float(text)
    if text[:1] in "|>&*!%@`":
        raise ValueError(f"unsupported YAML construct: {text!r}")
    return text


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _parse_block(lines: list[list[Any]], i: int, indent: int) -> tuple[Any, int]:
    if _is_item(lines[i][1]):
        return _parse_seq(lines, i, indent)
    return _parse_map(lines, i, indent)


def _parse_seq(lines: list[list[Any]], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
        rest = lines[i][1][1:].lstrip()
        if not rest:
            if i + 1 >= len(lines) or lines[i + 1][0] <= indent:
                items.append(None)
                i += 1
                continue
            value, i = _parse_block(lines, i + 1, lines[i + 1][0])
        elif _KEY.match(rest):
            column = indent + len(lines[i][1]) - len(rest)
            lines[i] = [column, rest, lines[i][2]]
            value, i = _parse_map(lines, i, column)
        else:
            value, i = _scalar(rest), i + 1
        items.append(value)
    return items, i


def _parse_map(lines: list[list[Any]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i][1]):
        match = _KEY.match(lines[i][1])
        if not match:
            raise ValueError(f"line {lines[i][2]}: expected 'key: value', got {lines[i][1]!r}")
        raw_key = match["key"].strip()
        key = _scalar(raw_key) if raw_key[:1] in "\"'" else raw_key
        if key in out:
            raise ValueError(f"line {lines[i][2]}: duplicate key {key!r}")
        rest = match["rest"]
        i += 1
        if rest:
            out[key] = _scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and _is_item(lines[i][1]))):
            out[key], i = _parse_block(lines, i, lines[i][0])
        else:
            out[key] = None
    return out, i


def load_yaml_documents(text: str) -> list[Any]:
    """Block mappings and sequences, plain/quoted scalars, JSON-style flow collections, comments
    and ``---``; anything else (anchors, tags, block scalars, tabs) raises instead of guessing."""
    documents: list[list[list[Any]]] = [[]]
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.rstrip() == "---":
            documents.append([])
            continue
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        body = line.lstrip(" ")
        if body.startswith("\t"):
            raise ValueError(f"line {number}: tab indentation")
        documents[-1].append([len(line) - len(body), body, number])
    parsed = []
    for lines in documents:
        if not lines:
            continue
        value, end = _parse_block(lines, 0, lines[0][0])
        if end != len(lines):
            raise ValueError(f"line {lines[end][2]}: unexpected indentation: {lines[end][1]!r}")
        parsed.append(value)
    return parsed


def _yaml_objects() -> dict[str, list[dict[str, Any]]]:
    return {
        p.name: load_yaml_documents(p.read_text(encoding="utf-8")) for p in sorted(KUBERNETES.glob("*.yaml"))
    }


def _k8s(kind: str) -> dict[str, Any]:
    found = [doc for docs in _yaml_objects().values() for doc in docs if doc.get("kind") == kind]
    assert len(found) == 1, f"expected exactly one {kind}, found {len(found)}"
    return found[0]


def _json(relative: str) -> Any:
    return json.loads((MANIFESTS / relative).read_text(encoding="utf-8"))


# --- the Dockerfile ----------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        op, _, args = (pending + line).partition(" ")
        instructions.append((op.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation line"
    return instructions


def _docker_stages() -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults, and the instructions of each stage (each starting with its FROM)."""
    global_args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for op, args in _dockerfile():
        if op == "FROM":
            stages.append([(op, args)])
        elif stages:
            stages[-1].append((op, args))
        elif op == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default
    return global_args, stages


def _docker_labels() -> dict[str, str]:
    _, stages = _docker_stages()
    labels: dict[str, str] = {}
    for op, args in stages[-1]:
        if op == "LABEL":
            labels.update(re.findall(r'([\w.\-/]+)="([^"]*)"', args))
    return labels


def _docker_copy_sources() -> list[str]:
    sources = []
    for op, args in _dockerfile():
        if op == "COPY" and "--from" not in args:
            words = [w for w in args.split() if not w.startswith("--")]
            sources += words[:-1]
    return sources


# --- manifests parse, and carry the version ----------------------------------------------------


def test_every_manifest_parses() -> None:
    json_files = sorted(MANIFESTS.rglob("*.json"))
    yaml_files = sorted(MANIFESTS.rglob("*.yaml"))
    assert {p.name for p in json_files} >= {"server.json", "manifest.json", "claude-desktop.json"}
    assert {p.name for p in yaml_files} >= {"deployment.yaml", "service.yaml", "kustomization.yaml"}
    for path in json_files:
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict), path
    for path in yaml_files:
        documents = load_yaml_documents(path.read_text(encoding="utf-8"))
        assert documents and all(isinstance(d, dict) for d in documents), path


def test_yaml_loader_agrees_with_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert load_yaml_documents(text) == [d for d in yaml.safe_load_all(text) if d is not None], path


def test_yaml_loader_refuses_what_it_does_not_understand() -> None:
    assert load_yaml_documents("a:\n  - b: 1\n    c: 'x # y'  # note\n  - [1, 2]\nd: \"0.1\"\n") == [
        {"a": [{"b": 1, "c": "x # y"}, [1, 2]], "d": "0.1"}
    ]
    for bad in ("a: |\n  text\n", "a: &x 1\n", "a: 1\n   b: 2\n", "a: 1\na: 2\n", "just text\n"):
        with pytest.raises(ValueError):
            load_yaml_documents(bad)


def test_every_file_carries_the_package_version() -> None:
    found: list[tuple[str, str]] = []
    patterns = [
        r"sharkfin-mcp(?:@|:|==)(\d+\.\d+[\w.+-]*\w)",
        r'image\.version="([^"]*)"',
        r'app\.kubernetes\.io/version: "?([^"\s]*)',
        r'"version": "([^"]*)"',
        r"sharkfin-mcp-(\d+\.\d+[\w.+-]*\w)\.mcpb",
    ]
    paths = [DOCKERFILE, *sorted(p for p in MANIFESTS.rglob("*") if p.is_file())]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            found += [(str(path.relative_to(ROOT)), v) for v in re.findall(pattern, text)]
    stale = [f"{where}: {v}" for where, v in found if v != __version__]
    assert not stale, f"these still do not say {__version__}:\n" + "\n".join(stale)
    where = {w for w, _ in found}
    for required in (
        "Dockerfile",
        "manifests/server.json",
        "manifests/manifest.json",
        "manifests/kubernetes/deployment.yaml",
        *(f"manifests/clients/{f}" for f in CLIENT_FILES.values()),
    ):
        assert required in where, f"{required} does not pin the version"


# --- MCP registry: server.json -----------------------------------------------------------------


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_server_json_fits_the_registry_schema() -> None:
    doc = _json("server.json")
    assert doc["$schema"] == SCHEMA
    assert doc["name"] == SERVER_NAME
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"mcp-name: {SERVER_NAME}" in readme, "the registry verifies PyPI ownership by this README line"
    assert 1 <= len(doc["description"]) <= 100, len(doc["description"])
    assert doc["version"] == __version__
    assert doc["repository"]["source"] == "github" and doc["repository"]["url"].startswith(
        "https://github.com/"
    )
    snake = {k for k in _keys(doc) if "_" in k and k not in ("$schema", "_meta")}
    assert not snake, f"the 2025-12-11 schema is camelCase: {snake}"
    allowed = {
        "registryType",
        "registryBaseUrl",
        "identifier",
        "version",
        "fileSha256",
        "runtimeHint",
        "transport",
        "runtimeArguments",
        "packageArguments",
        "environmentVariables",
    }
    for package in doc["packages"]:
        assert set(package) <= allowed, set(package) - allowed  # Package has additionalProperties: false
        assert package["transport"] == {"type": "stdio"}
        for var in package["environmentVariables"]:
            assert set(var) >= {"name", "description", "isRequired", "isSecret"}, var
            assert isinstance(var["isRequired"], bool) and isinstance(var["isSecret"], bool)
            assert var.get("format", "string") in ("string", "number", "boolean", "filepath")
            assert all(isinstance(var.get(k, ""), str) for k in ("default", "value", "description"))
            if "default" in var and "choices" in var:
                assert var["default"] in var["choices"]


def test_server_json_packages() -> None:
    packages = {p["registryType"]: p for p in _json("server.json")["packages"]}
    pypi = packages["pypi"]
    assert pypi["identifier"] == "sharkfin-mcp" and pypi["version"] == __version__
    assert pypi["runtimeHint"] == "uvx"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == pypi["identifier"] and "sharkfin-mcp" in project["scripts"]

    env = {v["name"]: v for v in pypi["environmentVariables"]}
    documented = ENV_VARS - HTTP_ONLY_ENV
    assert set(env) == documented, f"server.json vs `sharkfin-mcp --help`: {set(env) ^ documented}"
    assert env["SHARKFIN_API_KEY"]["isSecret"] is True and env["SHARKFIN_API_KEY"]["isRequired"] is True
    assert [n for n, v in env.items() if v["isSecret"]] == ["SHARKFIN_API_KEY"]
    assert env["SHARKFIN_URL"]["default"] == DEFAULT_URL
    assert env["SHARKFIN_API_KEY_FILE"]["format"] == "filepath"
    assert env["SHARKFIN_TOOLS"]["choices"] == list(choices_of(Settings.model_fields["tool_profile"]))

    oci = packages["oci"]
    image, _, tag = oci["identifier"].rpartition(":")
    assert tag == __version__ and "version" not in oci, "OCI packages carry the version in the tag"
    assert image in _k8s("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    oci_env = {v["name"]: v for v in oci["environmentVariables"]}
    assert oci_env["SHARKFIN_API_KEY"]["isSecret"] is True
    assert "SHARKFIN_API_KEY_FILE" not in oci_env, "a host path means nothing inside the container"


# --- MCPB bundle: manifest.json ----------------------------------------------------------------


def test_mcpb_manifest() -> None:
    doc = _json("manifest.json")
    assert doc["manifest_version"] == "0.3"
    for field in ("name", "version", "description", "author", "server"):
        assert doc.get(field), f"MCPB requires {field}"
    assert doc["name"] == "sharkfin-mcp" and doc["version"] == __version__
    assert doc["author"]["name"]
    server = doc["server"]
    assert server["type"] == "python"
    assert (ROOT / server["entry_point"]).is_file(), server["entry_point"]
    config = server["mcp_config"]
    assert config["command"] == "uvx" and config["args"] == [f"sharkfin-mcp@{__version__}"]

    user_config = doc["user_config"]
    referenced = {m for v in config["env"].values() for m in re.findall(r"\$\{user_config\.(\w+)\}", v)}
    assert referenced == set(user_config), "every user_config entry is used, and only those exist"
    assert config["env"]["SHARKFIN_API_KEY"] == "${user_config.api_key}"
    assert config["env"]["SHARKFIN_URL"] == "${user_config.sharkfin_url}"
    assert set(config["env"]) <= ENV_VARS
    api_key = user_config["api_key"]
    assert api_key["type"] == "string" and api_key["sensitive"] is True and api_key["required"] is True
    url = user_config["sharkfin_url"]
    assert url["type"] == "string" and url["default"] == DEFAULT_URL
    for name, option in user_config.items():
        assert option["type"] in ("string", "number", "boolean", "directory", "file"), name
        assert option.get("title") and option.get("description"), name
        # An optional setting without a default would reach the server as a literal ${user_config...}.
        assert option.get("required") or "default" in option, name


def test_mcpb_tools_match_the_live_server() -> None:
    async def live() -> list[dict[str, str]]:
        tools = await build_server(Settings()).list_tools()
        return [{"name": t.name, "description": _first_sentence(t.description)} for t in tools]

    expected = anyio.run(live)
    listed = _json("manifest.json")["tools"]
    assert listed == expected, (
        "run: uv run python -m sharkfin_mcp.server._catalog --write README.md manifests/manifest.json\n"
        + json.dumps(expected, indent=2)
    )


# --- client fragments --------------------------------------------------------------------------


@pytest.mark.parametrize("client", sorted(CLIENT_FILES))
def test_client_fragment_equals_the_config_command(client: str) -> None:
    expected = snippet(client, env={}, uvx="uvx")
    text = (MANIFESTS / "clients" / CLIENT_FILES[client]).read_text(encoding="utf-8")
    if CLIENT_FILES[client].endswith(".json"):
        assert text == expected + "\n"
        assert json.loads(text)  # and it is still valid JSON
    else:
        assert text.startswith("#!/bin/sh\n")
        commands = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        assert commands == [expected]


# --- Kubernetes --------------------------------------------------------------------------------


def test_kubernetes_objects_are_well_formed() -> None:
    objects = _yaml_objects()
    kustomization = objects.pop("kustomization.yaml")[0]
    assert kustomization["apiVersion"].startswith("kustomize.config.k8s.io/")
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(objects), "kustomization lists every manifest"
    kinds = set()
    for name, documents in objects.items():
        for obj in documents:
            assert obj.get("apiVersion") and obj.get("kind"), name
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"]["name"]), name
            kinds.add(obj["kind"])
    assert kinds >= {"Deployment", "Service", "ConfigMap"}
    assert "Secret" not in kinds, "secrets are created by the operator (see manifests/kubernetes/README.md)"


def test_deployment_serves_http_safely() -> None:
    deployment = _k8s("Deployment")
    assert deployment["apiVersion"] == "apps/v1"
    spec = deployment["spec"]
    template = spec["template"]
    labels = template["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items(), "selector must match the pod labels"
    assert spec["replicas"] == 1 or _k8s("Service")["spec"].get("sessionAffinity") == "ClientIP"

    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"].endswith(f":{__version__}") and ":latest" not in container["image"]
    args = container["args"]
    assert args[args.index("--transport") + 1] == "http"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert int(args[args.index("--port") + 1]) == HTTP_PORT
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert HTTP_PORT in ports.values()
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]["tcpSocket"]  # /mcp needs the token: probe the socket
        assert ports.get(check["port"], check["port"]) == HTTP_PORT, probe
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert "/tmp" in writable, "a read-only root needs a writable /tmp"

    _, stages = _docker_stages()
    user = [args for op, args in stages[-1] if op == "USER"][-1]
    assert int(user.split(":")[0]) == pod["securityContext"]["runAsUser"], "image UID vs runAsUser"


def test_deployment_configuration_and_secrets_are_consistent() -> None:
    container = _k8s("Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    refs = {
        name: e["valueFrom"]["secretKeyRef"]
        for name, e in env.items()
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert set(refs) == {"SHARKFIN_API_KEY", "SHARKFIN_MCP_TOKEN"}
    assert all("value" not in e for e in env.values() if e["name"] in refs)
    secret_names = {r["name"] for r in refs.values()}
    assert len(secret_names) == 1, f"one Secret holds both: {secret_names}"
    (secret,) = secret_names
    how_to = (KUBERNETES / "README.md").read_text(encoding="utf-8")
    assert f"kubectl create secret generic {secret}" in how_to
    for ref in refs.values():
        assert f"--from-literal={ref['key']}=" in how_to, f"README does not create key {ref['key']}"

    configmap = _k8s("ConfigMap")
    sources = [s["configMapRef"]["name"] for s in container.get("envFrom", []) if "configMapRef" in s]
    sources += [
        e["valueFrom"]["configMapKeyRef"]["name"]
        for e in env.values()
        if "configMapKeyRef" in e.get("valueFrom", {})
    ]
    assert sources and set(sources) == {configmap["metadata"]["name"]}
    data = configmap["data"]
    known = ENV_VARS
    assert set(data) <= known - {"SHARKFIN_API_KEY", "SHARKFIN_MCP_TOKEN"}, (
        "unknown or secret keys in the ConfigMap"
    )
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    assert "SHARKFIN_URL" in data or "SHARKFIN_URL" in env


def test_service_reaches_the_container_port() -> None:
    deployment = _k8s("Deployment")
    service = _k8s("Service")
    assert service["apiVersion"] == "v1" and service["spec"]["type"] == "ClusterIP"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == HTTP_PORT
    container_ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    by_name = {p["name"]: p["containerPort"] for p in container_ports}
    target = port.get("targetPort", port["port"])
    assert by_name.get(target, target) in by_name.values(), f"targetPort {target} is no container port"


# --- Dockerfile and .dockerignore --------------------------------------------------------------


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    global_args, stages = _docker_stages()
    assert len(stages) >= 2, "multi-stage build"
    names = []
    for stage in stages:
        base, _, name = stage[0][1].partition(" AS ")
        base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m[1] or m[2]], base.strip())
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", base), (
            f"base not pinned by tag and digest: {base}"
        )
        assert ":latest" not in base
        names.append(name.strip())
    assert all(names), "every stage is named"
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert ":latest" not in text
    final = stages[-1]
    assert any(f"from={names[0]}" in args for op, args in final if op in ("COPY", "RUN")), (
        "the runtime stage takes the wheel from the build stage"
    )
    build_runs = " ".join(args for op, args in stages[0] if op == "RUN")
    assert "uv build --wheel" in build_runs or "pip wheel ." in build_runs
    assert re.search(r"uv==\d+\.\d+\.\d+", build_runs) and "--frozen" in build_runs
    runtime_runs = " ".join(args for op, args in final if op == "RUN")
    assert "--require-hashes" in runtime_runs and "sharkfin_mcp-*.whl" in runtime_runs

    users = [args for op, args in final if op == "USER"]
    assert users, "the runtime stage sets a USER"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    assert [op for op, _ in final].index("USER") > max(i for i, (op, _) in enumerate(final) if op == "RUN")
    assert ("ENTRYPOINT", '["sharkfin-mcp"]') in final
    assert ("EXPOSE", str(HTTP_PORT)) in final
    assert not any(op == "HEALTHCHECK" for op, _ in final), "stdio cannot be health-checked"


def test_dockerfile_labels() -> None:
    labels = _docker_labels()
    assert labels["io.modelcontextprotocol.server.name"] == SERVER_NAME
    assert labels["org.opencontainers.image.version"] == __version__
    for key in ("title", "description", "source", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]


def test_dockerignore_keeps_the_context_small_but_sufficient() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (
        ".git",
        ".venv",
        "tests",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "**/__pycache__",
    ):
        assert required in patterns, required
    sources = _docker_copy_sources()
    assert {"pyproject.toml", "uv.lock", "README.md", "sharkfin_mcp"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
        excluded = [
            p for p in patterns if not p.startswith("!") and Path(source).match(p.removeprefix("**/"))
        ]
        assert not excluded, f".dockerignore {excluded} would drop {source} from the build context"


# --- the wheel and the sdist build (and the Dockerfile's build stage, emulated) -----------------

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")


def _uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["uv", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"uv {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@needs_uv
def test_wheel_and_sdist_build(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    _uv("build", "--out-dir", str(out), cwd=ROOT)
    (wheel,) = out.glob("sharkfin_mcp-*.whl")
    (sdist,) = out.glob("sharkfin_mcp-*.tar.gz")
    assert wheel.name == f"sharkfin_mcp-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        assert "sharkfin_mcp/py.typed" in names and "sharkfin_mcp/cli.py" in names
        dist_info = f"sharkfin_mcp-{__version__}.dist-info"
        entry_points = whl.read(f"{dist_info}/entry_points.txt").decode()
        metadata = whl.read(f"{dist_info}/METADATA").decode()
    assert re.search(r"^\[console_scripts\]\s*\nsharkfin-mcp = sharkfin_mcp\.cli:main$", entry_points, re.M)
    assert f"\nVersion: {__version__}\n" in metadata
    assert not any(n.startswith("tests/") for n in names)
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"README.md", "pyproject.toml", "sharkfin_mcp/py.typed", "sharkfin_mcp/cli.py"} <= members


@needs_uv
def test_dockerfile_build_stage_emulated(tmp_path: Path) -> None:
    """The build stage's commands, run on a context holding only what the Dockerfile copies."""
    context = tmp_path / "src"
    context.mkdir()
    for source in _docker_copy_sources():
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, context / source)
    run = " ".join(args for op, args in _docker_stages()[1][0] if op == "RUN")
    constraints = tmp_path / "build-constraints.txt"
    constraints.write_text("\n".join(re.findall(r"hatchling==[\d.]+", run)) + "\n", encoding="utf-8")
    assert constraints.read_text(encoding="utf-8").strip(), "the build backend is pinned"
    dist = tmp_path / "dist"
    _uv("build", "--wheel", "--build-constraint", str(constraints), "--out-dir", str(dist), cwd=context)
    assert (dist / f"sharkfin_mcp-{__version__}-py3-none-any.whl").is_file()

    exported = _uv(
        "export", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt", cwd=context
    ).stdout
    pinned = {m.lower().replace("_", "-") for m in re.findall(r"^([A-Za-z0-9_.-]+)==", exported, re.M)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name and name[0].lower().replace("_", "-") in pinned, requirement
    assert "sharkfin-mcp" not in pinned and "pytest" not in pinned, "runtime dependencies only"
    requirements = [line for line in exported.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert requirements and all(line.rstrip().endswith("\\") for line in requirements), "every pin has hashes"


@pytest.mark.skipif(shutil.which("uvx") is None, reason="uvx is not installed")
def test_uvx_runs_the_console_script_from_a_checkout() -> None:
    result = subprocess.run(
        ["uvx", "--from", str(ROOT), "sharkfin-mcp", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sharkfin-mcp {__version__}"

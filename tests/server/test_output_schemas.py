"""Every tool's outputSchema is one a strict JSON Schema compiler accepts (issue 11): each
``required`` name has a ``properties`` entry at every level (Ajv strict mode's "strictRequired"),
and the schema is valid JSON Schema. The TypeScript SDK test then validates real results against
them with Ajv (tests/test_typescript_client.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from sharkfin_mcp.server import Settings, build_server
from sharkfin_mcp.server.tools import TOOLS

pytestmark = pytest.mark.anyio


def _nodes(node: Any, where: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _nodes(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{where}[{index}]")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(schema["$defs"][ref.removeprefix("#/$defs/")])
    return node


def strict_problems(schema: dict[str, Any]) -> list[str]:
    """Where ``schema`` names a required property it does not define."""
    problems = []
    for where, node in _nodes(schema):
        node = _resolve(schema, node)
        required = node.get("required")
        if isinstance(required, list):
            missing = [name for name in required if name not in node.get("properties", {})]
            if missing:
                problems.append(f"{where}: required {missing} without properties")
    return problems


async def test_every_output_schema_is_strict() -> None:
    server = build_server(Settings(tool_profile="all,admin"))
    tools = await server.list_tools()
    assert {t.name for t in tools} == {spec.name for spec in TOOLS}
    for tool in tools:
        schema = tool.output_schema
        assert schema is not None, f"{tool.name} has no outputSchema"
        jsonschema.Draft202012Validator.check_schema(schema)
        assert strict_problems(schema) == [], tool.name


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "required": ["id"]},
        {"type": "object", "properties": {"rows": {"type": "array", "items": {"required": ["x"]}}}},
        {"$defs": {"M": {"type": "object", "required": ["a"]}}, "properties": {"m": {"$ref": "#/$defs/M"}}},
    ],
)
def test_the_check_finds_a_required_name_without_properties(schema: dict[str, Any]) -> None:
    assert strict_problems(schema)

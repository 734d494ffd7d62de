"""Tool arguments as language models send them, checked by one mechanism for every tool.

Models send ``null`` for optional arguments they do not mean to set, numbers as strings
(``"20"``) and lists or objects as JSON text. For every tool alike:

* ``null`` (or leaving an argument out) means the default; for a required argument it is an error;
* numeric and boolean strings are accepted where a number or boolean is expected, and JSON text
  where a list or object is expected; arguments the tool does not have are ignored;
* a failure is one plain sentence naming the argument and what it accepts, with no validator
  jargon and no links, e.g. ``limit must be an integer from 1 to 100, not 'lots'.``;
* any error the tool raises is one line, escaped like every text rendering (``_render.clean``).

The published input schema is lean, because clients send it to the model on every turn: no
``title``s, optional parameters are simply not ``required`` (no ``anyOf`` with ``null``, no
``default: null``, no ``default: false`` on a flag). Constraints and real defaults stay in it.

The tool function keeps its typed signature; :func:`add_tool` registers it with the SDK's public
``add_tool`` through a thin wrapper that validates here, inside the call, so that the error is a
tool result (``isError``) the model can read and act on.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, get_args, get_origin

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ._compat import pass_arguments_as_given, registered_tool
from ._errors import Refusal
from ._render import clean

__all__ = ["ArgumentSpec", "add_tool", "describe", "lean_schema"]

_SHOWN = 40
"""At most this many characters of a rejected value are quoted back."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)


def _is_context(annotation: Any) -> bool:
    candidates = (annotation, get_origin(annotation), *get_args(annotation))  # Context[Runtime, Any]
    return any(inspect.isclass(c) and issubclass(c, Context) for c in candidates)


class ArgumentSpec:
    """A tool function's parameters: the lean schema to publish and the validator to run."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        signature = inspect.signature(fn, eval_str=True)
        self.returns: Any = signature.return_annotation
        self.context: str | None = None
        fields: dict[str, Any] = {}
        self.required: list[str] = []
        for param in signature.parameters.values():
            if _is_context(param.annotation):
                self.context = param.name
                continue
            if param.default is inspect.Parameter.empty:
                fields[param.name] = (param.annotation, ...)
                self.required.append(param.name)
            else:
                fields[param.name] = (param.annotation, param.default)
        self.names = tuple(fields)
        self.model = create_model(f"{fn.__name__}_arguments", __base__=_Strict, **fields)
        self.schema = lean_schema(self.model.model_json_schema())
        self.properties: dict[str, Any] = self.schema["properties"]
        self.kinds = {name: prop.get("type") for name, prop in self.properties.items()}

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments for the tool function (``raw`` is the call's ``arguments``
        object; unknown keys are ignored). Raises ToolError, one plain sentence, if one is bad."""
        given: dict[str, Any] = {}
        for name in self.names:
            value = raw.get(name)
            if value is None:
                if name in self.required:
                    raise ToolError(f"{name} is required: {describe(self.properties[name])}.")
                continue  # null means the default
            if isinstance(value, str):
                value = _from_text(value, self.kinds.get(name))
                if value is None:
                    continue  # "" or "null" where a number, list ... is expected: the default
            given[name] = value
        try:
            checked = self.model.model_validate(given)
        except ValidationError as exc:
            raise ToolError(self.explain(exc)) from None
        return dict(checked.__dict__)

    def explain(self, exc: ValidationError) -> str:
        error = exc.errors(include_url=False)[0]
        name = str(error["loc"][0]) if error["loc"] else "arguments"
        schema = self.properties.get(name, {})
        if error["type"] == "missing":
            return f"{name} is required: {describe(schema)}."
        shown = _quote(error.get("input"))
        allowed = describe(schema)
        if error["type"] in ("value_error", "assertion_error"):
            reason = str(error.get("msg", "")).removeprefix("Value error, ")
            reason = clean(" ".join(reason.removeprefix("Assertion failed, ").split()))
            return f"{name} is not valid ({reason}): it must be {allowed}, not {shown}."
        return f"{name} must be {allowed}, not {shown}."


_NON_TEXT = frozenset({"integer", "number", "boolean", "array", "object"})


def _from_text(text: str, kind: str | None) -> Any:
    """A string where something else is expected: JSON text for a list or object, one item for a
    list, ``null`` for the default. Numbers and booleans are left to the validator's lax mode."""
    if kind not in _NON_TEXT:
        return text
    stripped = text.strip()
    if stripped in ("", "null", "None"):
        return None
    if kind in ("array", "object") and stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            return text
    if kind == "array":
        return [text]
    return text


def _quote(value: Any) -> str:
    if isinstance(value, str):
        shown = repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")
        return shown if len(value) <= _SHOWN else f"{shown} ({len(value)} characters)"
    text = json.dumps(value, default=str, ensure_ascii=True) if value is not None else "null"
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


# -- the published schema ------------------------------------------------------------------------


def lean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema without titles, ``null`` branches or defaults; constraints kept."""
    properties = {name: _lean(prop) for name, prop in schema.get("properties", {}).items()}
    lean: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        lean["required"] = list(schema["required"])
    if "$defs" in schema:
        lean["$defs"] = {name: _lean(d) for name, d in schema["$defs"].items()}
    return lean


def _lean(node: Any) -> Any:
    if isinstance(node, list):
        return [_lean(item) for item in node]
    if not isinstance(node, dict):
        return node
    # A null default is "optional", which not being required says already; a false one on a flag
    # is what a flag means. Real defaults (25 seconds, limit 100, public=true) stay.
    out = {
        k: _lean(v)
        for k, v in node.items()
        if k != "title" and not (k == "default" and (v is None or v is False))
    }
    if out.get("additionalProperties") is True:
        del out["additionalProperties"]  # what an object schema means anyway
    branches = out.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(branches):
            del out["anyOf"]
            out = {**kept[0], **out}
    return out


def describe(schema: Mapping[str, Any]) -> str:
    """What a schema accepts, as words: ``an integer from 1 to 100``, ``one of active, idle``."""
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{noun} from {_num(low)} to {_num(high)}"
        if low is not None:
            return f"{noun} of at least {_num(low)}"
        if high is not None:
            return f"{noun} of at most {_num(high)}"
        return noun
    if kind == "string":
        words = "a string"
        shortest, longest = schema.get("minLength"), schema.get("maxLength")
        if shortest == 1 and longest:
            words = f"a non-empty string of at most {longest} characters"
        elif shortest and longest:
            words = f"a string of {shortest} to {longest} characters"
        elif longest:
            words = f"a string of at most {longest} characters"
        elif shortest:
            words = "a non-empty string" if shortest == 1 else f"a string of at least {shortest} characters"
        if "pattern" in schema:
            words += f" matching {schema['pattern']}"
        return words
    if kind == "boolean":
        return "true or false"
    if kind == "object":
        return "a JSON object"
    if kind == "array":
        items = schema.get("items")
        return f"a list, each item {describe(items)}" if isinstance(items, Mapping) else "a list"
    return "a valid value"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- registration --------------------------------------------------------------------------------


def add_tool(
    mcp: MCPServer[Any],
    fn: Callable[..., Awaitable[Any]],
    *,
    annotations: ToolAnnotations,
    description: str,
) -> ArgumentSpec:
    """Register ``fn`` (an ``async def`` with typed parameters and a ``Context`` parameter) as a
    tool named after it, publishing the lean schema and validating arguments as described above."""
    spec = ArgumentSpec(fn)
    context = spec.context

    async def call(ctx: Context, arguments: dict[str, Any]) -> Any:
        kwargs = spec.validate(arguments)
        if context is not None:
            kwargs[context] = ctx
        try:
            return await fn(**kwargs)
        except (ToolError, Refusal) as exc:
            # The edge where our own Refusal becomes MCP's ToolError (an isError result). An error
            # is text the model reads too, and often quotes a name or the daemon's words.
            raise ToolError(clean(str(exc))) from exc.__context__

    returns = spec.returns
    call.__name__ = call.__qualname__ = fn.__name__
    call.__annotations__ = {"ctx": Context, "arguments": dict[str, Any], "return": returns}
    call.__signature__ = inspect.signature(call).replace(return_annotation=returns)  # type: ignore[attr-defined]
    mcp.add_tool(call, name=fn.__name__, description=description, annotations=annotations)
    tool = registered_tool(mcp, fn.__name__)
    tool.parameters = spec.schema
    pass_arguments_as_given(tool)
    return spec

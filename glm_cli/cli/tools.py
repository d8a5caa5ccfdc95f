"""The tools a request offers the model (SPEC §1.2, §5), checked before anything is sent.

    --tool FILE                  function tools from a JSON file: one tool or a list
    --web-search                 {"type": "web_search", "web_search": {...}}
    --web-search-opt KEY=VALUE   a further documented field of that object
    --retrieval ID               {"type": "retrieval", "retrieval": {"knowledge_id"...}}
    --retrieval-template TEXT    its prompt_template
    --mcp LABEL[=URL]            {"type": "mcp", "mcp": {"server_label", "server_url"...}}
    --mcp-header LABEL:NAME=VALUE, --mcp-transport sse|streamable-http

and the flags of the tool loop (`tool_loop.py`): `--tool-cmd NAME=COMMAND`,
`--max-tool-rounds N`, `--tool-timeout SECONDS`, `--tool-confirm`.

`request_tools` returns the wire objects in OpenAI form (the Anthropic encoder turns
function tools into `{name, description, input_schema}`); `loop_settings` checks the
loop's flags against them. Both raise UsageError naming the flag (and the file) and
import nothing heavy unless a tool flag was given.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from glm_cli.core import validate
from glm_cli.core.errors import UsageError
from glm_cli.engine.tool_runner import LoopSettings


class Flags(Protocol):
    """What tools read of the flags (`cli.flags.Flags` is one; a protocol, so that
    `flags`, which builds the request's tools from here, and this module form no cycle)."""

    def cli(self, name: str) -> Any: ...

    def lookup(self, name: str) -> tuple[Any, str]: ...

    def switch(self, name: str) -> bool: ...


NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MCP_TRANSPORTS = ("sse", "streamable-http")

DEFINITION_FLAGS = (
    "tool",
    "web_search",
    "web_search_opt",
    "retrieval",
    "retrieval_template",
    "mcp",
    "mcp_header",
    "mcp_transport",
)
LOOP_FLAGS = ("tool_cmd", "max_tool_rounds", "tool_timeout", "tool_confirm")
OPENAI_ONLY = {"web_search": "--web-search", "retrieval": "--retrieval", "mcp": "--mcp"}
"""Tool kinds the service offers on the OpenAI protocol only, and the flag that adds each."""


# --- function tools from files ------------------------------------------------------


def _load_json(path: str) -> Any:
    from glm_cli.cli.prompt import read_text_file
    from glm_cli.core import jsontext

    text = read_text_file(path, "--tool")
    try:
        return jsontext.parse(text, exact=False)
    except ValueError as error:
        raise UsageError(f"--tool {path!r}: not valid JSON ({error})") from error


def _check_schema(where: str, parameters: object) -> None:
    """`parameters` must be a JSON Schema for an object (the arguments are an object)."""
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise UsageError(
            f"{where}: parameters must be a JSON Schema object, "
            'like {"type": "object", "properties": {...}}'
        )
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(parameters).check_schema(parameters)
    except SchemaError as error:
        raise UsageError(
            f"{where}: parameters are not a valid JSON Schema ({error.message})"
        ) from error
    except RecursionError as error:
        raise UsageError(f"{where}: parameters are nested too deeply to check") from error


def _function_tool(where: str, item: object) -> dict[str, Any]:
    """One tool of a file: `{"type": "function", "function": {...}}` or bare `{...}`."""
    if not isinstance(item, dict):
        raise UsageError(f"{where}: a tool must be a JSON object")
    if "type" in item or "function" in item:
        if item.get("type") != "function":
            kind = item.get("type")
            hint = f" ({OPENAI_ONLY[kind]} adds that one)" if kind in OPENAI_ONLY else ""
            raise UsageError(
                f"{where}: only function tools go in a --tool file, not type {kind!r}{hint}"
            )
        extra = sorted(set(item) - {"type", "function"})
        if extra:
            raise UsageError(
                f"{where}: unknown field {extra[0]!r} "
                '(a tool is {"type": "function", "function": {...}})'
            )
        function = item.get("function")
        if not isinstance(function, dict):
            raise UsageError(f'{where}: "function" must be an object with a name')
    else:
        function = item
    extra = sorted(set(function) - {"name", "description", "parameters"})
    if extra:
        raise UsageError(
            f"{where}: unknown field {extra[0]!r} (a function has name, description and parameters)"
        )
    name = function.get("name")
    if name is None:
        raise UsageError(f"{where}: the tool has no name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsageError(
            f"{where}: tool name {name!r} must be 1-64 characters of A-Z, a-z, 0-9, _ and -"
        )
    where = f"{where} ({name})"
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise UsageError(f"{where}: description must be text")
    if "parameters" in function:
        _check_schema(where, function["parameters"])
    out: dict[str, Any] = {"name": name}
    if description is not None:
        out["description"] = description
    if "parameters" in function:
        out["parameters"] = function["parameters"]
    return {"type": "function", "function": out}


def load_tool_file(path: str) -> list[dict[str, Any]]:
    """The function tools in one `--tool` file, checked; UsageError names the file."""
    data = _load_json(path)
    where = f"--tool {path!r}"
    if isinstance(data, list):
        if not data:
            raise UsageError(f"{where}: the list holds no tools")
        return [_function_tool(f"{where}, tool {i + 1}", item) for i, item in enumerate(data)]
    return [_function_tool(where, data)]


# --- web search, retrieval, MCP -----------------------------------------------------


def _boolean(source: str, value: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise UsageError(f"{source} {value!r}: must be true or false")


def _text(source: str, value: str) -> str:
    return validate.non_empty(source, value)


def _one_of(*choices: str) -> Any:
    def check(source: str, value: str) -> str:
        return validate.choice(source, value, choices)

    return check


def _count(source: str, value: str) -> int:
    return validate.integer(source, value, 1, 50)


WEB_SEARCH_OPTIONS: dict[str, Any] = {
    "search_engine": _text,
    "count": _count,
    "search_query": _text,
    "search_prompt": _text,
    "search_intent": _boolean,
    "require_search": _boolean,
    "search_result": _boolean,
    "search_domain_filter": _text,
    "search_recency_filter": _one_of("oneDay", "oneWeek", "oneMonth", "oneYear", "noLimit"),
    "content_size": _one_of("medium", "high"),
    "result_sequence": _one_of("before", "after"),
}
"""The fields of the web_search object `--web-search-opt` may set (SPEC §5), each with
its check: the value typed as the service wants it (numbers, true/false, names)."""


def _pair(flag: str, given: str, separator: str = "=") -> tuple[str, str]:
    key, found, value = given.partition(separator)
    if not found or not key:
        raise UsageError(f"{flag} {given!r}: must be KEY{separator}VALUE")
    return key, value


def web_search_tool(enabled: bool, options: list[str]) -> dict[str, Any] | None:
    if options and not enabled:
        raise UsageError(f"--web-search-opt {options[0]!r}: needs --web-search")
    if not enabled:
        return None
    fields: dict[str, Any] = {"enable": True, "search_result": True}
    seen: set[str] = set()
    for given in options:
        key, value = _pair("--web-search-opt", given)
        if key not in WEB_SEARCH_OPTIONS:
            raise UsageError(
                f"--web-search-opt {given!r}: unknown key; known: {', '.join(WEB_SEARCH_OPTIONS)}"
            )
        if key in seen:
            raise UsageError(f"--web-search-opt {given!r}: {key} given twice")
        seen.add(key)
        fields[key] = WEB_SEARCH_OPTIONS[key](f"--web-search-opt {key}", value)
    return {"type": "web_search", "web_search": fields}


def retrieval_tool(knowledge_id: str | None, template: str | None) -> dict[str, Any] | None:
    if template is not None and knowledge_id is None:
        raise UsageError("--retrieval-template needs --retrieval ID")
    if knowledge_id is None:
        return None
    fields = {"knowledge_id": validate.non_empty("--retrieval", knowledge_id)}
    if template is not None:
        fields["prompt_template"] = validate.non_empty("--retrieval-template", template)
    return {"type": "retrieval", "retrieval": fields}


def mcp_tools(
    servers: list[str], headers: list[str], transport: str | None
) -> list[dict[str, Any]]:
    if not servers:
        if headers:
            raise UsageError(f"--mcp-header {headers[0]!r}: needs --mcp LABEL")
        if transport is not None:
            raise UsageError("--mcp-transport needs --mcp LABEL")
        return []
    if transport is not None:
        validate.choice("--mcp-transport", transport, MCP_TRANSPORTS)
    tools: dict[str, dict[str, Any]] = {}
    for given in servers:
        label, has_url, url = given.partition("=")
        source = f"--mcp {given!r}"
        if not label.strip() or ":" in label:
            raise UsageError(f"{source}: the label must be non-empty, without ':' or '='")
        if label in tools:
            raise UsageError(f"{source}: server label {label!r} given twice")
        fields: dict[str, Any] = {"server_label": label}
        if has_url:
            if not url.startswith(("http://", "https://")):
                raise UsageError(f"{source}: the URL must start with http:// or https://")
            fields["server_url"] = url
        if transport is not None:
            fields["transport_type"] = transport
        tools[label] = {"type": "mcp", "mcp": fields}
    for given in headers:
        label, found, header = given.partition(":")
        name, has_value, value = header.partition("=")
        source = f"--mcp-header {given!r}"
        if not found or not has_value or not name.strip():
            raise UsageError(f"{source}: must be LABEL:NAME=VALUE")
        if label not in tools:
            raise UsageError(f"{source}: no --mcp server is labelled {label!r}")
        tools[label]["mcp"].setdefault("headers", {})[name] = value
    return list(tools.values())


# --- everything together --------------------------------------------------------------


def _given(flags: Flags, name: str) -> Any:
    return flags.cli(name)


def request_tools(flags: Flags) -> list[dict[str, Any]]:
    """Every tool the flags ask for, in wire form (OpenAI protocol), at most 128."""
    if all(_given(flags, name) in (None, False) for name in DEFINITION_FLAGS):
        return []
    tools: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for path in _given(flags, "tool") or []:
        for tool in load_tool_file(path):
            name = tool["function"]["name"]
            if name in names:
                earlier = (
                    "earlier in the same file"
                    if names[name] == path
                    else (f"also in --tool {names[name]!r}")
                )
                raise UsageError(f"--tool {path!r}: duplicate tool name {name!r} ({earlier})")
            names[name] = path
            tools.append(tool)
            if len(tools) > validate.MAX_TOOLS:
                raise UsageError(f"--tool {path!r}: more than {validate.MAX_TOOLS} tools in all")
    search = web_search_tool(
        bool(_given(flags, "web_search")), list(_given(flags, "web_search_opt") or [])
    )
    if search is not None:
        tools.append(search)
    retrieval = retrieval_tool(_given(flags, "retrieval"), _given(flags, "retrieval_template"))
    if retrieval is not None:
        tools.append(retrieval)
    tools += mcp_tools(
        list(_given(flags, "mcp") or []),
        list(_given(flags, "mcp_header") or []),
        _given(flags, "mcp_transport"),
    )
    if len(tools) > validate.MAX_TOOLS:
        raise UsageError(
            f"{len(tools)} tools in all (--tool, --web-search, --retrieval, --mcp); "
            f"the service takes at most {validate.MAX_TOOLS}"
        )
    return tools


def check_protocol(tools: list[dict[str, Any]], protocol: str) -> None:
    """Web search, retrieval and MCP exist on the OpenAI protocol only (SPEC §2.1)."""
    if protocol == "openai":
        return
    for tool in tools:
        kind = tool.get("type")
        if kind in OPENAI_ONLY:
            raise UsageError(
                f"{OPENAI_ONLY[kind]}: {kind} tools are an openai-protocol feature of the "
                f"service, not available on the {protocol} protocol (use --protocol openai)"
            )


def loop_settings(flags: Flags, tools: list[dict[str, Any]]) -> LoopSettings:
    """Check `--tool-cmd` and the loop's limits; each NAME must be a `--tool` function."""
    settings = LoopSettings()
    value, source = flags.lookup("max_tool_rounds")
    if value is not None:
        settings.max_rounds = validate.integer(source, value, 1, 1000)
    value, source = flags.lookup("tool_timeout")
    if value is not None:
        settings.timeout = validate.seconds(source, value)
    settings.confirm = flags.switch("tool_confirm")
    pairs = _given(flags, "tool_cmd") or []
    if not pairs:
        return settings
    import shlex

    functions = {tool["function"]["name"] for tool in tools if tool.get("type") == "function"}
    for given in pairs:
        source = f"--tool-cmd {given!r}"
        name, found, command = given.partition("=")
        if not found or not name:
            raise UsageError(f"{source}: must be NAME=COMMAND")
        if name not in functions:
            raise UsageError(f"{source}: no --tool file defines a function named {name!r}")
        if name in settings.commands:
            raise UsageError(f"{source}: {name!r} already has a command")
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise UsageError(f"{source}: cannot split the command ({error})") from error
        if not argv:
            raise UsageError(f"{source}: the command is empty")
        settings.commands[name] = argv
    return settings

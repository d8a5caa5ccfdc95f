"""Every command-line option, declared once; commands pick the groups they take.

typer reads a command's options from its function signature, so `with_options`
builds that signature from these declarations. Values stay as given (text for
numbers): `options`/`validate` check them, with messages that name the flag.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from glm_cli.core.validate import EFFORTS

OptionList = list[tuple[str, Any]]

PROVIDERS_HELP = "evolink (default), evolink-anthropic, cloudsway, or one from the config"

PROMPT: OptionList = [
    (
        "prompt",
        Annotated[
            list[str] | None,
            typer.Argument(
                help="The prompt's words, joined with spaces; a lone - stands for stdin.",
                metavar="PROMPT...",
                show_default=False,
            ),
        ],
    ),
    (
        "prompt_file",
        Annotated[
            list[str] | None,
            typer.Option(
                "--prompt-file",
                metavar="PATH",
                help="Add a file's text to the prompt (repeatable); - reads stdin.",
            ),
        ],
    ),
    (
        "no_stdin",
        Annotated[
            bool,
            typer.Option(
                "--no-stdin", "-n", help="Never read stdin (for while-read loops, cron, ssh)."
            ),
        ],
    ),
    (
        "system",
        Annotated[
            str | None,
            typer.Option(
                "--system",
                "-s",
                metavar="TEXT|@PATH",
                help="The system prompt; @PATH reads it from a file, @- from stdin, @@ starts it "
                "with a literal @.",
            ),
        ],
    ),
]

REQUEST: OptionList = [
    (
        "model",
        Annotated[
            str | None,
            typer.Option("--model", "-m", metavar="NAME", help="Model name (default glm-5.2)."),
        ],
    ),
    (
        "effort",
        Annotated[
            str | None,
            typer.Option(
                "--effort", metavar="LEVEL", help=f"Reasoning effort: {', '.join(EFFORTS)}."
            ),
        ],
    ),
    (
        "think",
        Annotated[
            bool | None,
            typer.Option("--think/--no-think", help="Turn thinking on or off.", show_default=False),
        ],
    ),
    (
        "temperature",
        Annotated[
            str | None,
            typer.Option(
                "--temperature",
                "-t",
                metavar="X",
                help="Sampling temperature, 0 to 1, two decimals.",
            ),
        ],
    ),
    (
        "top_p",
        Annotated[
            str | None,
            typer.Option(
                "--top-p",
                metavar="X",
                help="Nucleus sampling, 0.01 to 1, two decimals (anthropic: 0 to 1).",
            ),
        ],
    ),
    (
        "top_k",
        Annotated[
            str | None,
            typer.Option(
                "--top-k", metavar="N", help="Sample from the N likeliest tokens (anthropic only)."
            ),
        ],
    ),
    (
        "max_tokens",
        Annotated[
            str | None,
            typer.Option("--max-tokens", metavar="N", help="Most tokens to generate, 1 to 131072."),
        ],
    ),
    (
        "greedy",
        Annotated[
            bool | None,
            typer.Option(
                "--greedy", help="Greedy decoding (do_sample: false).", show_default=False
            ),
        ],
    ),
    (
        "stop",
        Annotated[
            list[str] | None,
            typer.Option("--stop", metavar="TEXT", help="Stop sequence (repeatable, at most 4)."),
        ],
    ),
    (
        "request_id",
        Annotated[
            str | None,
            typer.Option(
                "--request-id",
                metavar="ID",
                help="Request id sent to the service, 6-64 characters.",
            ),
        ],
    ),
    (
        "user_id",
        Annotated[
            str | None,
            typer.Option(
                "--user-id", metavar="ID", help="End-user id sent to the service, 6-128 characters."
            ),
        ],
    ),
    (
        "stream",
        Annotated[
            bool | None,
            typer.Option(
                "--stream/--no-stream",
                help="Stream the answer (default: stream).",
                show_default=False,
            ),
        ],
    ),
]

CONNECTION: OptionList = [
    (
        "provider",
        Annotated[str | None, typer.Option("--provider", metavar="NAME", help=PROVIDERS_HELP)],
    ),
    (
        "protocol",
        Annotated[
            str | None,
            typer.Option(
                "--protocol",
                metavar="openai|anthropic",
                help="Wire protocol (default: the provider's).",
            ),
        ],
    ),
    (
        "base_url",
        Annotated[
            str | None,
            typer.Option(
                "--base-url",
                metavar="URL",
                help="Service root, e.g. http://127.0.0.1:8080; glm appends the protocol's path.",
            ),
        ],
    ),
    (
        "endpoint",
        Annotated[
            str | None,
            typer.Option(
                "--endpoint", metavar="NAME", help="The {endpoint} of the Cloudsway path."
            ),
        ],
    ),
    (
        "api_key_file",
        Annotated[
            str | None,
            typer.Option("--api-key-file", metavar="PATH", help="Read the API key from a file."),
        ],
    ),
    (
        "config",
        Annotated[
            str | None,
            typer.Option(
                "--config", metavar="PATH", help="Config file to use instead of the default."
            ),
        ],
    ),
    (
        "timeout",
        Annotated[
            str | None,
            typer.Option(
                "--timeout",
                metavar="SECONDS",
                help="Bound connecting and any silence between bytes (default 10 s / 300 s).",
            ),
        ],
    ),
    (
        "max_time",
        Annotated[
            str | None,
            typer.Option(
                "--max-time", metavar="SECONDS", help="Bound the whole run, retries included."
            ),
        ],
    ),
    (
        "retries",
        Annotated[
            str | None,
            typer.Option(
                "--retries", metavar="N", help="Retries on transient failures (default 2)."
            ),
        ],
    ),
]

OUTPUT: OptionList = [
    (
        "show_thinking",
        Annotated[
            bool | None,
            typer.Option(
                "--show-thinking",
                help="Write the reasoning to stderr as it arrives.",
                show_default=False,
            ),
        ],
    ),
    (
        "usage",
        Annotated[
            bool | None,
            typer.Option("--usage", help="Token usage to stderr at the end.", show_default=False),
        ],
    ),
    (
        "sources",
        Annotated[
            bool | None,
            typer.Option(
                "--sources",
                help="Web-search results (title and link) to stderr.",
                show_default=False,
            ),
        ],
    ),
    (
        "quiet",
        Annotated[
            bool | None,
            typer.Option(
                "--quiet", "-q", help="Silence warnings (errors still print).", show_default=False
            ),
        ],
    ),
    (
        "verbose",
        Annotated[
            bool | None,
            typer.Option(
                "--verbose",
                help="Say which provider, URL, model and retries are used.",
                show_default=False,
            ),
        ],
    ),
    (
        "debug",
        Annotated[
            bool,
            typer.Option(
                "--debug", help="Tracebacks, and the HTTP exchange on stderr (key redacted)."
            ),
        ],
    ),
    (
        "dry_run",
        Annotated[
            bool,
            typer.Option(
                "--dry-run", help="Print the request as JSON (key redacted); send nothing."
            ),
        ],
    ),
]

NDJSON: OptionList = [
    (
        "ndjson",
        Annotated[bool, typer.Option("--ndjson", help="One JSON event per line instead of text.")],
    ),
]

MARKDOWN: OptionList = [
    (
        "markdown",
        Annotated[
            bool | None,
            typer.Option(
                "--markdown",
                help="Render the answer as Markdown on a terminal (plain text otherwise).",
                show_default=False,
            ),
        ],
    ),
]

CONFIG_INIT: OptionList = [
    ("force", Annotated[bool, typer.Option("--force", help="Overwrite an existing config file.")]),
]

JSON_ONLY: OptionList = [
    (
        "pretty",
        Annotated[
            bool | None, typer.Option("--pretty", help="Indent the JSON.", show_default=False)
        ],
    ),
    (
        "schema",
        Annotated[
            str | None,
            typer.Option(
                "--schema",
                metavar="FILE",
                help="JSON Schema the answer must match (one repair retry).",
            ),
        ],
    ),
]

RAW_ONLY: OptionList = [
    (
        "body",
        Annotated[
            str | None,
            typer.Option(
                "--body",
                metavar="FILE|-",
                help="Send this JSON request body; flags override its fields.",
            ),
        ],
    ),
]

CHAT: OptionList = [
    (
        "session",
        Annotated[
            str | None,
            typer.Option(
                "--session",
                metavar="NAME",
                help="Continue this session of the local store (scripts: 'default').",
            ),
        ],
    ),
    (
        "file",
        Annotated[
            str | None,
            typer.Option(
                "--file",
                metavar="PATH",
                help="Continue the conversation in this JSONL file (created if missing).",
            ),
        ],
    ),
    (
        "reset",
        Annotated[
            bool | None,
            typer.Option(
                "--reset",
                help="Empty the session or file first; with no prompt, only that.",
                show_default=False,
            ),
        ],
    ),
    (
        "max_history",
        Annotated[
            str | None,
            typer.Option(
                "--max-history",
                metavar="N",
                help="Send only the last N messages of the history "
                "(the system prompt always goes).",
            ),
        ],
    ),
    (
        "list_sessions",
        Annotated[
            bool | None,
            typer.Option(
                "--list",
                help="List the sessions: NAME, MESSAGES, LAST_USED, tab-separated.",
                show_default=False,
            ),
        ],
    ),
    (
        "show",
        Annotated[
            str | None,
            typer.Option(
                "--show",
                metavar="NAME",
                help="Print a session's transcript (--ndjson: one message per line, as --file).",
            ),
        ],
    ),
    (
        "delete",
        Annotated[str | None, typer.Option("--delete", metavar="NAME", help="Delete a session.")],
    ),
]

TOOL_DEFINITIONS: OptionList = [
    (
        "tool",
        Annotated[
            list[str] | None,
            typer.Option(
                "--tool",
                metavar="FILE",
                help="Function tools from a JSON file: one tool or a list (repeatable).",
            ),
        ],
    ),
    (
        "web_search",
        Annotated[
            bool | None,
            typer.Option(
                "--web-search",
                help="Offer the service's web search (openai protocol).",
                show_default=False,
            ),
        ],
    ),
    (
        "web_search_opt",
        Annotated[
            list[str] | None,
            typer.Option(
                "--web-search-opt",
                metavar="KEY=VALUE",
                help="A web_search field: count, search_engine, search_recency_filter, "
                "search_domain_filter, content_size... (repeatable).",
            ),
        ],
    ),
    (
        "retrieval",
        Annotated[
            str | None,
            typer.Option(
                "--retrieval",
                metavar="ID",
                help="Offer knowledge-base retrieval (openai protocol).",
            ),
        ],
    ),
    (
        "retrieval_template",
        Annotated[
            str | None,
            typer.Option(
                "--retrieval-template", metavar="TEXT", help="The retrieval tool's prompt_template."
            ),
        ],
    ),
    (
        "mcp",
        Annotated[
            list[str] | None,
            typer.Option(
                "--mcp",
                metavar="LABEL[=URL]",
                help="Offer an MCP server; a label alone names a hosted one (repeatable; openai "
                "protocol).",
            ),
        ],
    ),
    (
        "mcp_header",
        Annotated[
            list[str] | None,
            typer.Option(
                "--mcp-header",
                metavar="LABEL:NAME=VALUE",
                help="An HTTP header for an MCP server (repeatable).",
            ),
        ],
    ),
    (
        "mcp_transport",
        Annotated[
            str | None,
            typer.Option(
                "--mcp-transport",
                metavar="sse|streamable-http",
                help="How the service talks to the MCP servers.",
            ),
        ],
    ),
]

TOOL_LOOP: OptionList = [
    (
        "tool_cmd",
        Annotated[
            list[str] | None,
            typer.Option(
                "--tool-cmd",
                metavar="NAME=COMMAND",
                help="Run COMMAND (no shell) when the model calls NAME: arguments as JSON on "
                "stdin, stdout is the result (repeatable).",
            ),
        ],
    ),
    (
        "max_tool_rounds",
        Annotated[
            str | None,
            typer.Option(
                "--max-tool-rounds",
                metavar="N",
                help="Most rounds of tool runs before giving up with exit 6 (default 8).",
            ),
        ],
    ),
    (
        "tool_timeout",
        Annotated[
            str | None,
            typer.Option(
                "--tool-timeout",
                metavar="SECONDS",
                help="Bound each tool run (default 60); a timeout is an error result.",
            ),
        ],
    ),
    (
        "tool_confirm",
        Annotated[
            bool | None,
            typer.Option(
                "--tool-confirm",
                help="Ask on the terminal before each tool run.",
                show_default=False,
            ),
        ],
    ),
]

TOOLS: OptionList = TOOL_DEFINITIONS + TOOL_LOOP

BATCH: OptionList = [
    (
        "input",
        Annotated[
            str | None,
            typer.Argument(
                help="JSONL input: one prompt or request a line (- or none: stdin).",
                metavar="INPUT",
                show_default=False,
            ),
        ],
    ),
    (
        "jobs",
        Annotated[
            str | None,
            typer.Option(
                "--jobs", "-j", metavar="N", help="Requests at once, 1 to 256 (default 4)."
            ),
        ],
    ),
    (
        "rpm",
        Annotated[
            str | None,
            typer.Option("--rpm", metavar="N", help="At most N requests a minute, spread evenly."),
        ],
    ),
    (
        "output",
        Annotated[
            str | None,
            typer.Option(
                "--output",
                "-o",
                metavar="FILE",
                help="Append the records to FILE; a rerun skips the ids already there.",
            ),
        ],
    ),
    (
        "retry_failed",
        Annotated[
            bool | None,
            typer.Option(
                "--retry-failed",
                help="Redo the lines whose record in --output is an error.",
                show_default=False,
            ),
        ],
    ),
    (
        "shard",
        Annotated[
            str | None,
            typer.Option(
                "--shard",
                metavar="K/N",
                help="Only the lines whose 0-based index is K-1 modulo N.",
            ),
        ],
    ),
    (
        "unordered",
        Annotated[
            bool | None,
            typer.Option(
                "--unordered",
                help="Write each record as it finishes, not in input order.",
                show_default=False,
            ),
        ],
    ),
    (
        "strict",
        Annotated[
            bool | None,
            typer.Option(
                "--strict",
                help="Any bad line is a usage error before anything is sent.",
                show_default=False,
            ),
        ],
    ),
    (
        "format",
        Annotated[
            str | None,
            typer.Option(
                "--format",
                metavar="record|openai",
                help="Record shape: glm's (default) or the OpenAI Batch output's.",
            ),
        ],
    ),
]

_DEFAULTS = {"no_stdin": False, "debug": False, "dry_run": False, "ndjson": False, "force": False}


def with_options(options: OptionList) -> Callable[[Callable[[dict[str, Any]], None]], Any]:
    """Turn `body(given)` into a typer command taking exactly `options`."""

    def decorate(body: Callable[[dict[str, Any]], None]) -> Any:
        def command(**given: Any) -> None:
            body(given)

        parameters = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_DEFAULTS.get(name),
                annotation=annotation,
            )
            for name, annotation in options
        ]
        setattr(command, "__signature__", inspect.Signature(parameters))  # noqa: B010  # typer reads it
        command.__annotations__ = {name: annotation for name, annotation in options}
        command.__name__ = body.__name__
        command.__doc__ = body.__doc__
        return command

    return decorate

"""Every command-line option, declared once as plain data; commands pick the groups.

The declarations import nothing heavy: `cli.app` turns them into typer's (for help,
completion and every error message), and `cli.parse` reads a plain command line
with them without importing typer at all (the start-up of a cache hit and of
`glm logs`). Values stay as given (text for numbers): `validate` checks them, with
messages that name the flag.
"""

from __future__ import annotations

from typing import NamedTuple

from glm_cli.core.efforts import EFFORTS


class Spec(NamedTuple):
    """How one parameter is spelled on the command line.

    `kind` is `arguments` (the command's words), `argument` (one word), `value`
    (an option taking text), `values` (the same, repeatable), `switch` (on, or off
    with `--x/--no-x`, or not given: `[defaults]` may set it) or `flag` (on or off
    for this run only)."""

    kind: str
    flags: tuple[str, ...]
    metavar: str | None
    help: str


Option = tuple[str, Spec]
"""A parameter's name (the key in the options a command is given) and its spelling."""
OptionList = list[Option]

PROVIDERS_HELP = "evolink (default), evolink-anthropic, cloudsway, or one from the config"


def argument(name: str, *, metavar: str, help: str, many: bool = True) -> Option:
    """The command's words (`PROMPT...`), or with `many=False` one word (`INPUT`)."""
    return name, Spec("arguments" if many else "argument", (), metavar, help)


def value(name: str, *flags: str, metavar: str, help: str) -> Option:
    """An option that takes a value, kept as text (`validate` checks it)."""
    return name, Spec("value", flags, metavar, help)


def values(name: str, *flags: str, metavar: str, help: str) -> Option:
    """An option that may be repeated."""
    return name, Spec("values", flags, metavar, help)


def switch(name: str, *flags: str, help: str) -> Option:
    """On (or off, `--x/--no-x`), or not given at all: `[defaults]` may set it."""
    return name, Spec("switch", flags, None, help)


def flag(name: str, *flags: str, help: str) -> Option:
    """On or off for this run only (`[defaults]` cannot set it)."""
    return name, Spec("flag", flags, None, help)


PROMPT: OptionList = [
    argument(
        "prompt",
        metavar="PROMPT...",
        help="The prompt's words, joined with spaces; a lone - stands for stdin.",
    ),
    values(
        "prompt_file",
        "--prompt-file",
        metavar="PATH",
        help="Add a file's text to the prompt (repeatable); - reads stdin.",
    ),
    flag(
        "no_stdin", "--no-stdin", "-n", help="Never read stdin (for while-read loops, cron, ssh)."
    ),
    value(
        "system",
        "--system",
        "-s",
        metavar="TEXT|@PATH",
        help="The system prompt; @PATH reads it from a file, @- from stdin, "
        "@@ starts it with a literal @.",
    ),
]

TEMPLATE: OptionList = [
    value(
        "template",
        "--template",
        "-T",
        metavar="NAME|PATH",
        help="Fill in a prompt template: NAME.toml of the templates folder, or a file "
        "(a value with / or ending in .toml); see glm templates.",
    ),
    values(
        "param", "--param", "-p", metavar="KEY=VALUE", help="Put VALUE in the template's {KEY}."
    ),
]

REQUEST: OptionList = [
    value("model", "--model", "-m", metavar="NAME", help="Model name (default glm-5.2)."),
    value("effort", "--effort", metavar="LEVEL", help=f"Reasoning effort: {', '.join(EFFORTS)}."),
    switch("think", "--think/--no-think", help="Turn thinking on or off."),
    value(
        "temperature",
        "--temperature",
        "-t",
        metavar="X",
        help="Sampling temperature, 0 to 1, two decimals.",
    ),
    value(
        "top_p",
        "--top-p",
        metavar="X",
        help="Nucleus sampling, 0.01 to 1, two decimals (anthropic: 0 to 1).",
    ),
    value(
        "top_k", "--top-k", metavar="N", help="Sample from the N likeliest tokens (anthropic only)."
    ),
    value(
        "max_tokens",
        "--max-tokens",
        metavar="N",
        help="Most tokens to generate, reasoning included (GLM-5.2: 1 to 131072; 1024 or "
        "more advised with thinking on).",
    ),
    switch("greedy", "--greedy", help="Greedy decoding (do_sample: false)."),
    values("stop", "--stop", metavar="TEXT", help="Stop sequence (repeatable, at most 4)."),
    value(
        "request_id",
        "--request-id",
        metavar="ID",
        help="Request id sent to the service, 6-64 characters.",
    ),
    value(
        "user_id",
        "--user-id",
        metavar="ID",
        help="End-user id sent to the service, 6-128 characters.",
    ),
    switch("stream", "--stream/--no-stream", help="Stream the answer (default: stream)."),
]

CONNECTION: OptionList = [
    value("provider", "--provider", metavar="NAME", help=PROVIDERS_HELP),
    value(
        "protocol",
        "--protocol",
        metavar="openai|anthropic",
        help="Wire protocol (default: the provider's).",
    ),
    value(
        "base_url",
        "--base-url",
        metavar="URL",
        help="Service root, e.g. http://127.0.0.1:8080; glm appends the protocol's path.",
    ),
    value("endpoint", "--endpoint", metavar="NAME", help="The {endpoint} of the Cloudsway path."),
    value("api_key_file", "--api-key-file", metavar="PATH", help="Read the API key from a file."),
    value("config", "--config", metavar="PATH", help="Config file to use instead of the default."),
    value(
        "timeout",
        "--timeout",
        metavar="SECONDS",
        help="Bound connecting and any silence between bytes (default 10 s / 300 s).",
    ),
    value(
        "max_time", "--max-time", metavar="SECONDS", help="Bound the whole run, retries included."
    ),
    value("retries", "--retries", metavar="N", help="Retries on transient failures (default 2)."),
]

OUTPUT_FILE: OptionList = [
    value(
        "output_file",
        "--output",
        "-o",
        metavar="FILE",
        help="Write the output to FILE instead of stdout, replacing it only when the run "
        "succeeds (for make: glm ask -o $@ ...).",
    ),
]

OUTPUT: OptionList = [
    switch("show_thinking", "--show-thinking", help="Write the reasoning to stderr as it arrives."),
    switch("usage", "--usage", help="Token usage to stderr at the end."),
    switch("sources", "--sources", help="Web-search results (title and link) to stderr."),
    switch("quiet", "--quiet", "-q", help="Silence warnings (errors still print)."),
    switch(
        "verbose", "--verbose", help="Say which provider, URL, model, effort and retries are used."
    ),
    flag("debug", "--debug", help="Tracebacks, and the HTTP exchange on stderr (key redacted)."),
    flag("dry_run", "--dry-run", help="Print the request as JSON (key redacted); send nothing."),
]

NDJSON: OptionList = [
    flag("ndjson", "--ndjson", help="One JSON event per line instead of text."),
]

MARKDOWN: OptionList = [
    switch(
        "markdown",
        "--markdown",
        help="Render the answer as Markdown on a terminal (plain text otherwise).",
    ),
]

HISTORY: OptionList = [
    flag("no_log", "--no-log", help="Record nothing of this run in the log (glm logs)."),
    switch(
        "cache",
        "--cache/--no-cache",
        help="Replay an earlier identical exchange instead of sending; the no- form "
        "neither reads nor writes the cache.",
    ),
    value(
        "cache_ttl",
        "--cache-ttl",
        metavar="DURATION",
        help="Ignore cache entries older than this (90s, 30m, 2h, 7d).",
    ),
    flag("refresh", "--refresh", help="Send even on a cache hit, and replace the entry."),
]

JSON_ONLY: OptionList = [
    switch("pretty", "--pretty", help="Indent the JSON."),
    value(
        "schema",
        "--schema",
        metavar="FILE",
        help="JSON Schema the answer must match (one repair retry).",
    ),
]

RAW_ONLY: OptionList = [
    value(
        "body",
        "--body",
        metavar="FILE|-",
        help="Send this JSON request body; flags override its fields.",
    ),
]

EXTRACT: OptionList = [
    switch(
        "extract",
        "--extract",
        "-x",
        help="Print only the answer's first fenced code block (none: the whole answer).",
    ),
    switch("extract_last", "--extract-last", help="Print only the last fenced code block."),
    value(
        "extract_lang",
        "--extract-lang",
        metavar="LANG",
        help="Print only the first code block in LANG (python, c++, bash...).",
    ),
    switch("strict", "--strict", help="With -x: no code block in the answer is exit 6."),
]

CHAT: OptionList = [
    value(
        "session",
        "--session",
        metavar="NAME",
        help="Continue this session of the local store (scripts: 'default').",
    ),
    value(
        "file",
        "--file",
        metavar="PATH",
        help="Continue the conversation in this JSONL file (created if missing).",
    ),
    switch(
        "continue_last",
        "--continue",
        "-c",
        help="Continue the session used last (the latest LAST_USED of --list).",
    ),
    value(
        "fork",
        "--fork",
        metavar="NAME",
        help="Start --session NEW as a copy of session NAME (alone: only copy).",
    ),
    switch("reset", "--reset", help="Empty the session or file first; with no prompt, only that."),
    value(
        "max_history",
        "--max-history",
        metavar="N",
        help="Send only the last N messages of the history (the system prompt always goes).",
    ),
    switch(
        "list_sessions",
        "--list",
        help="List the sessions: NAME, MESSAGES, LAST_USED, tab-separated.",
    ),
    value(
        "show",
        "--show",
        metavar="NAME",
        help="Print a session's transcript (--ndjson: one message per line, as --file).",
    ),
    value("delete", "--delete", metavar="NAME", help="Delete a session."),
]

TOOL_DEFINITIONS: OptionList = [
    values(
        "tool",
        "--tool",
        metavar="FILE",
        help="Function tools from a JSON file: one tool or a list (repeatable).",
    ),
    switch("web_search", "--web-search", help="Offer the service's web search (openai protocol)."),
    values(
        "web_search_opt",
        "--web-search-opt",
        metavar="KEY=VALUE",
        help="A web_search field: count, search_engine, search_recency_filter, "
        "search_domain_filter, content_size... (repeatable).",
    ),
    value(
        "retrieval",
        "--retrieval",
        metavar="ID",
        help="Offer knowledge-base retrieval (openai protocol).",
    ),
    value(
        "retrieval_template",
        "--retrieval-template",
        metavar="TEXT",
        help="The retrieval tool's prompt_template.",
    ),
    values(
        "mcp",
        "--mcp",
        metavar="LABEL[=URL]",
        help="Offer an MCP server; a label alone names a hosted one (repeatable; openai protocol).",
    ),
    values(
        "mcp_header",
        "--mcp-header",
        metavar="LABEL:NAME=VALUE",
        help="An HTTP header for an MCP server (repeatable).",
    ),
    value(
        "mcp_transport",
        "--mcp-transport",
        metavar="sse|streamable-http",
        help="How the service talks to the MCP servers.",
    ),
]

TOOL_LOOP: OptionList = [
    values(
        "tool_cmd",
        "--tool-cmd",
        metavar="NAME=COMMAND",
        help="Run COMMAND (no shell) when the model calls NAME: arguments as JSON on "
        "stdin, stdout is the result (repeatable).",
    ),
    value(
        "max_tool_rounds",
        "--max-tool-rounds",
        metavar="N",
        help="Most rounds of tool runs before giving up with exit 6 (default 8).",
    ),
    value(
        "tool_timeout",
        "--tool-timeout",
        metavar="SECONDS",
        help="Bound each tool run (default 60); a timeout is an error result.",
    ),
    switch("tool_confirm", "--tool-confirm", help="Ask on the terminal before each tool run."),
]

TOOLS: OptionList = TOOL_DEFINITIONS + TOOL_LOOP


def absent(spec: Spec) -> bool | None:
    """What a command is given for an option not on its command line: a `flag` is
    off; anything else is None, so `[defaults]` may still set it."""
    return False if spec.kind == "flag" else None

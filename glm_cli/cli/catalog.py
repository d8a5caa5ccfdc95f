"""Which commands there are, and which options each takes (SPEC §1).

Plain data, read by `cli.app` (typer's declarations) and `cli.parse` (the typer-free
reading of a plain command line) alike.
"""

from __future__ import annotations

from glm_cli.cli.command_options import BATCH, CONFIG_INIT, LOGS, TEMPLATE_NAME
from glm_cli.cli.options import (
    CHAT,
    CONNECTION,
    EXTRACT,
    HISTORY,
    JSON_ONLY,
    MARKDOWN,
    NDJSON,
    OUTPUT,
    OUTPUT_FILE,
    PROMPT,
    RAW_ONLY,
    REQUEST,
    TEMPLATE,
    TOOL_DEFINITIONS,
    TOOLS,
    OptionList,
)

BATCH_SYSTEM = [option for option in PROMPT if option[0] == "system"]
BATCH_OUTPUT = [
    option
    for option in OUTPUT
    if option[0] in ("show_thinking", "quiet", "verbose", "debug", "dry_run")
]

ASKING = PROMPT + TEMPLATE
"""What the four asking commands (ask, chat, json, raw) start with: the prompt."""
DELIVERY = OUTPUT_FILE + OUTPUT + CONNECTION + HISTORY
"""What they end with: where the answer goes, the service, the log and cache."""

COMMANDS: dict[str, tuple[OptionList, str]] = {
    "ask": (
        ASKING + REQUEST + TOOLS + NDJSON + MARKDOWN + EXTRACT + DELIVERY,
        "One question, one answer: the answer's text on stdout.",
    ),
    "chat": (
        ASKING + CHAT + REQUEST + TOOLS + NDJSON + MARKDOWN + EXTRACT + DELIVERY,
        "Multi-turn: a loop on a terminal; from scripts, continue a session or a file.",
    ),
    "json": (
        ASKING + REQUEST + TOOLS + JSON_ONLY + NDJSON + DELIVERY,
        "JSON mode: the answer checked, printed as one JSON document.",
    ),
    "raw": (
        ASKING + REQUEST + TOOL_DEFINITIONS + RAW_ONLY + DELIVERY,
        "The wire format: the provider's own response, or its stream as NDJSON.",
    ),
    "batch": (
        BATCH + BATCH_SYSTEM + TEMPLATE + REQUEST + BATCH_OUTPUT + CONNECTION + HISTORY,
        "Many prompts from JSONL, concurrently, in order, resumable: one record a line.",
    ),
    "logs": (
        LOGS,
        "The log of exchanges: list, search, show, rm, usage, prune.",
    ),
}
CONFIG_OPTION = [option for option in CONNECTION if option[0] == "config"]
MODEL = [option for option in REQUEST if option[0] == "model"]
CONFIG_COMMANDS: dict[str, tuple[OptionList, str]] = {
    "path": (CONFIG_OPTION, "Print the config file in use (it may not exist yet)."),
    "show": (MODEL + CONNECTION, "Print the effective settings and where each came from."),
    "init": (
        CONFIG_OPTION + CONFIG_INIT,
        "Write a commented config template (mode 0600); --force overwrites.",
    ),
}

TEMPLATES_COMMANDS: dict[str, tuple[OptionList, str]] = {
    "list": ([], "Print the templates' names, one a line, sorted."),
    "show": (TEMPLATE_NAME, "Print a template file's text."),
    "path": ([], "Print the templates folder (it may not exist yet)."),
}
GROUPS: dict[str, tuple[dict[str, tuple[OptionList, str]], str]] = {
    "config": (CONFIG_COMMANDS, "The configuration in use: path, show, init."),
    "templates": (TEMPLATES_COMMANDS, "Prompt templates (-T NAME): list, show NAME, path."),
}

"""The options only one command takes: `glm logs`, `glm batch`, `glm config init`,
`glm templates show` (the shared groups are in `cli.options`)."""

from __future__ import annotations

from glm_cli.cli.options import OptionList, argument, flag, switch, value

TEMPLATE_NAME: OptionList = [
    argument("name", metavar="NAME", help="A template's name, or a path to one.", many=False),
]

LOGS: OptionList = [
    argument(
        "action",
        metavar="[show ID | rm ID...]",
        help="show ID: one exchange in full; rm ID...: delete exchanges.",
    ),
    value("count", "-n", metavar="N", help="How many exchanges (default 10; 0: all)."),
    flag("json", "--json", help="One JSON array."),
    flag("ndjson", "--ndjson", help="One JSON object per line."),
    value("query", "--query", "-q", metavar="TEXT", help="Full-text search, best match first."),
    value("session", "--session", metavar="NAME", help="Only this chat session's exchanges."),
    value("model", "--model", metavar="NAME", help="Only this model (asked for or answering)."),
    value("command", "--command", metavar="NAME", help="Only this command (ask, chat, json...)."),
    flag("failed", "--failed", help="Only exchanges that failed (exit status not 0)."),
    value(
        "since",
        "--since",
        metavar="WHEN",
        help="Only from this time on: ISO date or time (UTC), or 90s, 30m, 2h, 7d ago.",
    ),
    value("until", "--until", metavar="WHEN", help="Only up to this time (as --since)."),
    value("id_gt", "--id-gt", metavar="ID", help="Only rows whose id is greater (new rows)."),
    flag("response", "--response", "-r", help="Only the newest match's answer, as shown."),
    flag("usage", "--usage", help="Token and request totals, by day and model."),
    value("by", "--by", metavar="day|model|command", help="Group the usage totals by this only."),
    value("prune", "--prune", metavar="DAYS", help="Delete rows older than DAYS, then vacuum."),
    flag("path", "--path", help="Print the store's path."),
    switch("quiet", "--quiet", help="Silence warnings."),
]

CONFIG_INIT: OptionList = [
    flag("force", "--force", help="Overwrite an existing config file."),
]

BATCH: OptionList = [
    argument(
        "input",
        metavar="INPUT",
        help="JSONL input: one prompt or request a line (- or none: stdin).",
        many=False,
    ),
    value("jobs", "--jobs", "-j", metavar="N", help="Requests at once, 1 to 256 (default 4)."),
    value("rpm", "--rpm", metavar="N", help="At most N requests a minute, spread evenly."),
    value(
        "output",
        "--output",
        "-o",
        metavar="FILE",
        help="Append the records to FILE; a rerun skips the ids already there.",
    ),
    switch(
        "retry_failed",
        "--retry-failed",
        help="Redo the lines whose record in --output is an error.",
    ),
    value(
        "shard",
        "--shard",
        metavar="K/N",
        help="Only the lines whose 0-based index is K-1 modulo N.",
    ),
    switch(
        "unordered", "--unordered", help="Write each record as it finishes, not in input order."
    ),
    switch("strict", "--strict", help="Any bad line is a usage error before anything is sent."),
    value(
        "format",
        "--format",
        metavar="record|openai",
        help="Record shape: glm's (default) or the OpenAI Batch output's.",
    ),
]

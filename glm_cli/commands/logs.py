"""`glm logs`: the log of exchanges — list, search, show, rm, usage, prune, path (SPEC §7.1).

It reads the store and never makes one: with no store there is nothing logged
(an empty listing, zero totals). Output goes through the `Sink` like every
command's; `--json` is one array, `--ndjson` one object per line, both with the
row's `id`, and the request body embedded as the JSON that was sent.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from glm_cli.core import times, validate
from glm_cli.core.errors import UsageError
from glm_cli.history import schema, search
from glm_cli.output.sink import Sink
from glm_cli.output.terminal import Console, Env, escape_controls
from glm_cli.settings.config import store_path

DEFAULT_COUNT = 10
BY = ("day", "model", "command")


def _integer(source: str, value: str, low: int) -> int:
    return int(validate.integer(source, value, low, 2**62))


def filters(given: dict[str, Any]) -> search.Filters:
    since, until, id_gt = given.get("since"), given.get("until"), given.get("id_gt")
    return search.Filters(
        session=given.get("session"),
        model=given.get("model"),
        command=given.get("command"),
        failed=bool(given.get("failed")),
        since=times.moment("--since", since) if since is not None else None,
        until=times.moment("--until", until, end=True) if until is not None else None,
        id_gt=_integer("--id-gt", id_gt, 0) if id_gt is not None else None,
    )


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A row as `--json` shows it: usage as one object, JSON columns as JSON. (orjson
    is imported for JSON output only: text output starts faster without it.)"""
    import orjson

    out = {name: row[name] for name in ("id", "time", "command", "provider", "host", "model")}
    out["answered_model"] = row["answered_model"]
    out["session"] = row["session"]
    out["prompt"] = row["prompt"]
    out["answer"] = row["answer"]
    out["reasoning"] = row["reasoning"]
    out["tool_calls"] = orjson.Fragment(row["tool_calls"]) if row["tool_calls"] else None
    out["finish_reason"] = row["finish_reason"]
    out["usage"] = {name: row[name] for name in schema.USAGE_COLUMNS}
    out["duration_s"] = row["duration_s"]
    out["exit_status"] = row["exit_status"]
    out["error"] = row["error"]
    out["request_id"] = row["request_id"]
    out["cached"] = bool(row["cached"])
    out["body"] = orjson.Fragment(row["body"]) if row["body"] else None
    return out


def _text(row: dict[str, Any], terminal: bool) -> str:
    tokens = row["total_tokens"]
    head = " ".join(
        part
        for part in (
            f"#{row['id']}",
            row["time"],
            row["command"],
            row["answered_model"] or row["model"] or "-",
            f"exit {row['exit_status']}",
            f"{row['duration_s']:.2f}s" if row["duration_s"] is not None else "",
            f"{tokens} tokens" if tokens is not None else "",
            f"session {row['session']}" if row["session"] else "",
            "(cached)" if row["cached"] else "",
        )
        if part
    )
    lines = [head]
    if row["prompt"]:
        lines += ["> " + line for line in row["prompt"].splitlines()] or ["> "]
    if row["answer"]:
        lines.append(row["answer"].rstrip("\n"))
    if row["error"]:
        lines.append(row["error"])
    text = "\n".join(lines) + "\n\n"
    return escape_controls(text) if terminal else text


class Output:
    def __init__(self, sink: Sink, given: dict[str, Any], terminal: bool) -> None:
        self.sink = sink
        self.json = bool(given.get("json"))
        self.ndjson = bool(given.get("ndjson"))
        self.terminal = terminal
        if self.json and self.ndjson:
            raise UsageError("--json and --ndjson cannot be used together")

    def rows(self, rows: list[dict[str, Any]], text: Any) -> None:
        if self.json or self.ndjson:
            import orjson
        if self.json:
            self.sink.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        elif self.ndjson:
            for row in rows:
                self.sink.put(orjson.dumps(row) + b"\n")
            self.sink.flush()
        else:
            for row in rows:
                self.sink.put(text(row).encode("utf-8", "surrogatepass"))
            self.sink.flush()


def run(given: dict[str, Any], env: Env, console: Console) -> None:
    console = console.configured(quiet=bool(given.get("quiet")), verbose=False)
    sink = Sink(env.stdout)
    path = store_path(env.environ)
    if given.get("path"):
        sink.write(str(path) + "\n")
        return
    out = Output(sink, given, env.stdout_isatty)
    action = list(given.get("action") or [])
    chosen = filters(given)
    db = schema.connect(path, create_missing=False)
    try:
        _act(db, path, action, given, chosen, out, console)
    except sqlite3.Error as error:
        raise schema.store_error(path, error) from error
    finally:
        if db is not None:
            db.close()


def _act(
    db: sqlite3.Connection | None,
    path: Any,
    action: list[str],
    given: dict[str, Any],
    chosen: search.Filters,
    out: Output,
    console: Console,
) -> None:
    if action:
        verb, ids = action[0], action[1:]
        if verb not in ("show", "rm"):
            raise UsageError(f"glm logs {verb!r}: not a subcommand (show ID, rm ID...)")
        numbers = [_integer(f"glm logs {verb}", value, 1) for value in ids]
        if not numbers or (verb == "show" and len(numbers) != 1):
            raise UsageError(f"glm logs {verb} takes {'one ID' if verb == 'show' else 'IDs'}")
        if verb == "show":
            row = search.one(db, numbers[0]) if db is not None else None
            if row is None:
                raise UsageError(f"glm logs show: no exchange {numbers[0]}")
            _show(row, out)
            return
        missing = search.remove(db, path, numbers) if db is not None else numbers
        if missing:
            raise UsageError(
                "glm logs rm: no exchange " + ", ".join(map(str, missing)) + "; nothing deleted"
            )
        return
    if given.get("prune") is not None:
        days = _integer("--prune", given["prune"], 0)
        if db is not None:
            deleted = search.prune(db, path, times.moment("--prune", f"{days}d"))
            if not console.quiet:
                console.line(f"glm: {deleted} exchanges deleted")
        return
    if given.get("usage"):
        by = given.get("by")
        if by is not None and by not in BY:
            raise UsageError(f"--by {by!r}: must be day, model or command")
        groups = [by] if by is not None else ["day", "model"]
        totals = search.usage(db, chosen, groups) if db is not None else []
        _usage(totals, groups, out)
        return
    if given.get("by") is not None:
        raise UsageError("--by goes with --usage")
    count: str | None = given.get("count")
    limit: int | None = _integer("-n", count, 0) if count is not None else DEFAULT_COUNT
    if count is None and chosen.id_gt is not None:
        limit = None  # every new row
    if limit == 0:
        limit = None
    query = given.get("query")
    if given.get("response"):
        rows = search.select(db, chosen, limit=None, query=query) if db is not None else []
        rows = sorted(rows, key=lambda row: int(row["id"]))[-1:]
        if not rows:
            raise UsageError("glm logs -r: no exchange matches")
        row = rows[0]
        text = row["shown"] if row["shown"] is not None else (row["answer"] or "")
        out.sink.write(escape_controls(text) if out.terminal else text)
        return
    rows = search.select(db, chosen, limit=limit, query=query) if db is not None else []
    out.rows([public(row) for row in rows] if out.json or out.ndjson else rows, _row_text(out))


def _row_text(out: Output) -> Any:
    return lambda row: _text(row, out.terminal)


def _show(row: dict[str, Any], out: Output) -> None:
    if out.json or out.ndjson:
        import orjson

        out.sink.write(orjson.dumps(public(row), option=0 if out.ndjson else orjson.OPT_INDENT_2))
        out.sink.write(b"\n")
        return
    text = _text(row, out.terminal)
    extra = []
    for name in ("provider", "host", "finish_reason", "request_id"):
        if row[name] is not None:
            extra.append(f"{name}: {row[name]}")
    usage = " ".join(f"{name}={row[name]}" for name in schema.USAGE_COLUMNS)
    extra.append(f"usage: {usage}")
    if row["reasoning"]:
        extra.append("reasoning: " + row["reasoning"])
    if row["tool_calls"]:
        extra.append("tool_calls: " + row["tool_calls"])
    if row["body"]:
        extra.append("body: " + row["body"])
    tail = "\n".join(extra) + "\n"
    out.sink.write(text.rstrip("\n") + "\n" + (escape_controls(tail) if out.terminal else tail))


def _usage(totals: list[dict[str, Any]], groups: list[str], out: Output) -> None:
    names = [*groups, *schema.USAGE_COLUMNS, "requests"]
    if out.json or out.ndjson:
        out.rows(totals, None)
        return
    lines = ["\t".join(name.upper() for name in names)]
    lines += ["\t".join(str(row[name]) for name in names) for row in totals]
    out.sink.write("\n".join(lines) + "\n")

"""`glm chat`: multi-turn conversations kept in a session (SQLite) or a file (JSONL).

Dispatch, after every chat flag is checked (before any network traffic):
`--list`, `--show`, `--delete` manage sessions; with no prompt on a terminal the
interactive loop runs; otherwise one exchange continues the `--file`, or the
`--session` (scripts default to the session named `default`; `--continue` picks
the one used last). `--fork NAME --session NEW` starts NEW as a copy of NAME;
with no prompt it only copies.
"""

from __future__ import annotations

from pathlib import Path

from glm_cli.cli.job import Job
from glm_cli.cli.prompt import system_prompt
from glm_cli.commands.chat_turn import TurnOptions, take_turn
from glm_cli.core import validate
from glm_cli.core.errors import UsageError
from glm_cli.core.records import record
from glm_cli.history.conversation import (
    KEEP,
    History,
    Keep,
    MemoryHistory,
    SystemChange,
    jsonl,
    transcript,
)
from glm_cli.history.jsonl import FileHistory
from glm_cli.history.store import ForkHistory, SessionHistory, Store, check_name
from glm_cli.settings.config import store_path

DEFAULT_SESSION = "default"


@record
class ChatOptions:
    session: str | None = None
    file: str | None = None
    continue_last: bool = False
    fork: str | None = None
    reset: bool = False
    max_history: int | None = None
    list_sessions: bool = False
    show: str | None = None
    delete: str | None = None

    @property
    def action(self) -> str | None:
        if self.list_sessions:
            return "--list"
        if self.show is not None:
            return "--show"
        if self.delete is not None:
            return "--delete"
        return None


def chat_options(job: Job) -> ChatOptions:
    """Every chat flag checked, and their combinations; raises UsageError."""
    flags = job.flags
    actions = [
        name
        for name, given in (
            ("--list", flags.cli("list_sessions")),
            ("--show", flags.cli("show") is not None),
            ("--delete", flags.cli("delete") is not None),
        )
        if given
    ]
    if len(actions) > 1:
        raise UsageError(f"{actions[0]} and {actions[1]} cannot be combined; give one")
    if actions:
        for flag, name in (
            ("--session", "session"),
            ("--file", "file"),
            ("--continue", "continue_last"),
            ("--fork", "fork"),
            ("--reset", "reset"),
            ("--max-history", "max_history"),
            ("--system", "system"),
            ("--prompt-file", "prompt_file"),
        ):
            if flags.cli(name):
                raise UsageError(f"{actions[0]} cannot be combined with {flag}")
        if flags.cli("prompt"):
            raise UsageError(f"{actions[0]} takes no prompt")
    session, file = flags.cli("session"), flags.cli("file")
    if session is not None and file is not None:
        raise UsageError("--session and --file both name the conversation; give one")
    if file is not None and not file.strip():
        raise UsageError(f"--file {file!r}: must not be empty")
    _check_continue_and_fork(flags.cli("continue_last"), flags.cli("fork"), session, file)
    if flags.cli("fork") is not None and flags.cli("reset"):
        raise UsageError("--fork and --reset cannot be combined: a fork starts as a copy")
    fork = flags.cli("fork")
    max_history = flags.cli("max_history")
    return ChatOptions(
        session=check_name("--session", session) if session is not None else None,
        file=file,
        continue_last=bool(flags.cli("continue_last")),
        fork=check_name("--fork", fork) if fork is not None else None,
        reset=bool(flags.cli("reset")),
        max_history=validate.integer("--max-history", max_history, 0)
        if max_history is not None
        else None,
        list_sessions=bool(flags.cli("list_sessions")),
        show=check_name("--show", flags.cli("show")) if flags.cli("show") is not None else None,
        delete=check_name("--delete", flags.cli("delete"))
        if flags.cli("delete") is not None
        else None,
    )


def _check_continue_and_fork(
    continue_last: object, fork: str | None, session: str | None, file: str | None
) -> None:
    """`--continue` names the conversation itself; `--fork NAME` needs `--session NEW`."""
    if continue_last:
        for flag, value in (("--session", session), ("--file", file), ("--fork", fork)):
            if value is not None:
                raise UsageError(f"--continue and {flag} both name the conversation; give one")
    if fork is not None:
        if file is not None:
            raise UsageError(
                "--fork copies a session of the store; it cannot be combined with --file"
            )
        if session is None:
            raise UsageError("--fork NAME needs --session NEW, the name of the copy")


def run(job: Job) -> None:
    options = chat_options(job)
    if options.action is not None:
        manage_sessions(job, options)
        return
    interactive = wants_interactive(job, options)
    history = open_history(job, options, interactive=interactive)
    try:
        if interactive:
            from glm_cli.commands.interactive import ChatLoop

            ChatLoop(job, history, options.max_history, _given_system(job)).run()
        else:
            one_exchange(job, history, options)
    finally:
        history.close()


def wants_interactive(job: Job, options: ChatOptions) -> bool:
    """On a terminal (stdin and stdout), with no prompt (a template's included) and
    nothing else to do."""
    template = job.flags.template
    return (
        job.env.stdin_isatty
        and job.env.stdout_isatty
        and not job.flags.cli("prompt")
        and not job.flags.cli("prompt_file")
        and not options.reset
        and options.fork is None
        and (template is None or template.prompt is None)
    )


def open_history(job: Job, options: ChatOptions, *, interactive: bool) -> History:
    """The conversation, checked writable before any request is paid for (SPEC §3.2)."""
    if options.file is not None:
        history = FileHistory(Path(options.file))
        history.check()
        return history
    path = store_path(job.env.environ)
    if options.continue_last:
        session = SessionHistory(path, _latest_session(path))
    elif options.fork is not None:
        assert options.session is not None
        session = ForkHistory(path, options.session, options.fork)
    elif options.session is None and interactive:
        return MemoryHistory()
    else:
        session = SessionHistory(path, options.session or DEFAULT_SESSION)
    try:
        session.check()
    except BaseException:
        session.close()
        raise
    return session


def _latest_session(path: Path) -> str:
    """`--continue`: the session used last; none at all is a usage error (exit 2)."""
    store = Store.open(path, create=False)
    try:
        name = store.latest() if store is not None else None
    finally:
        if store is not None:
            store.close()
    if name is None:
        raise UsageError("--continue: there is no session to continue (glm chat --list is empty)")
    return name


def _given_system(job: Job) -> SystemChange:
    """`--system` from the command line (an empty one clears it), else a template's
    (stored like a --system), else KEEP."""
    value = job.flags.cli("system")
    if value is None:
        template = job.flags.template
        if template is not None and template.system is not None:
            return job.system()
        return KEEP
    return system_prompt(value, job.stdin) or None


def one_exchange(job: Job, history: History, options: ChatOptions) -> None:
    """Script mode: read the prompt, maybe reset, then one turn."""
    prompt = job.prompt(allow_empty=options.reset or options.fork is not None)
    system = _given_system(job)
    dry_run = job.output.dry_run
    if options.reset and not dry_run:
        history.reset(None if isinstance(system, Keep) else system)
    if not prompt:
        if options.fork is not None and not dry_run:
            history.append([], system)  # only the copy
        return
    take_turn(
        job,
        history,
        prompt,
        TurnOptions(
            system=system,
            max_history=options.max_history,
            start_empty=options.reset and dry_run,
        ),
    )


def manage_sessions(job: Job, options: ChatOptions) -> None:
    """`--list`, `--show NAME`, `--delete NAME`; an unknown name is exit 2."""
    store = Store.open(store_path(job.env.environ), create=False)
    try:
        if options.list_sessions:
            for info in store.sessions() if store is not None else []:
                job.sink.write(f"{info.name}\t{info.messages}\t{info.last_used}\n")
            return
        name = options.show if options.show is not None else options.delete
        assert name is not None
        if options.show is not None:
            conversation = store.load(name) if store is not None else None
            if conversation is None:
                raise _unknown(name, "--show")
            if job.output.ndjson:
                job.sink.write_bytes(jsonl(conversation))
            else:
                job.sink.write(transcript(conversation))
        elif store is None or not store.delete(name):
            raise _unknown(name, "--delete")
    finally:
        if store is not None:
            store.close()


def _unknown(name: str, flag: str) -> UsageError:
    return UsageError(f"{flag} {name!r}: no such session (glm chat --list lists them)")

"""One chat exchange: the single code path for sessions, files and the interactive loop.

Load the history, send it with the new user message through the same
`tool_loop.run_exchange` as `glm ask` (so `--tool-cmd` works here too), render
the answer with `ask`'s renderer, and only when the answer is complete and usable
append the user message and what the exchange added (the assistant's answer, and
the tool calls and results of any tool rounds) — in one atomic append. A failed,
filtered or interrupted request raises before that point, so it appends nothing.
"""

from __future__ import annotations

from glm_cli.cli.job import Job
from glm_cli.commands.ask import make_renderer, show
from glm_cli.commands.recording import Recording
from glm_cli.core.messages import RequestParams
from glm_cli.core.records import record
from glm_cli.history.conversation import (
    KEEP,
    Conversation,
    History,
    Keep,
    SystemChange,
    for_request,
    kept,
    user_message,
)


@record
class TurnOptions:
    system: SystemChange = KEEP
    """A system prompt to use (and store) from now on, or KEEP: the stored one, else
    the config file's `[defaults]` one (which is never stored)."""
    max_history: int | None = None
    params: RequestParams | None = None
    """Request fields changed in the loop (`/think`, `/effort`); None: from the flags."""
    start_empty: bool = False
    """Send no history (a `--dry-run --reset`, which must not empty anything)."""


def take_turn(job: Job, history: History, prompt: str, options: TurnOptions) -> None:
    conversation = Conversation() if options.start_empty else history.load()
    system, store = _system(job, conversation, options.system)
    user = user_message(prompt)
    request = job.chat_request(prompt, system=system)
    if options.params is not None:
        request.params = options.params
    request.messages = [*for_request(conversation.messages, options.max_history), user]
    body = job.encode(request)
    if job.output.dry_run:
        job.dry_run(body)
        return
    session = getattr(history, "name", None)
    with Recording(job, "chat", session=session if isinstance(session, str) else None) as recording:
        current = show(job, make_renderer(job), request, body, recording)
        history.append([user, *(kept(message) for message in current.added)], store)


def _system(
    job: Job, conversation: Conversation, wanted: SystemChange
) -> tuple[str | None, SystemChange]:
    """(the system prompt sent, the change to store with the exchange)."""
    if isinstance(wanted, Keep):
        return (conversation.system if conversation.system is not None else job.system()), KEEP
    return wanted, (KEEP if wanted == conversation.system else wanted)

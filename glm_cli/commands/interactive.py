"""The interactive loop of `glm chat`, when stdin and stdout are a terminal.

Line editing and history come from `readline`, imported only here (it costs
start-up and touches the terminal); its history file lives in the data directory.
Each line is sent through the same `take_turn` as a script's exchange, so the
answer looks the same and is kept the same way. What the loop itself says
(the banner, `/help`, errors) goes to stderr.

Ctrl-C while an answer streams raises KeyboardInterrupt inside the exchange: the
connection is closed on the way out and nothing is appended, so the loop simply
goes on. SIGTERM and SIGHUP end the loop (glm dies by them), and so does a stdout
that can no longer be written. Ctrl-C while typing drops the line, as a shell does.
Ctrl-D or `/exit` ends the loop (exit 0). A line ending in `\\` continues on the next one.
"""

from __future__ import annotations

import contextlib
import readline
from pathlib import Path

from glm_cli.cli.job import Job
from glm_cli.commands.chat_turn import TurnOptions, take_turn
from glm_cli.core import validate
from glm_cli.core.errors import GlmError, OutputError, StdoutClosed, UsageError
from glm_cli.files.safe import private_folder, write_atomically
from glm_cli.history.conversation import Conversation, History, Keep, MemoryHistory, SystemChange
from glm_cli.history.jsonl import save
from glm_cli.settings.config import data_dir

PROMPT = "glm> "
MORE = "...> "
HISTORY_FILE = "chat_history"
HISTORY_LENGTH = 1000
COMMANDS = ("/exit", "/reset", "/system", "/think", "/effort", "/save", "/help")
HELP = f"""\
/exit            leave (Ctrl-D does too)
/reset           empty the conversation; the system prompt stays
/system [TEXT]   replace the system prompt for the next answers; alone, show it
/think on|off    thinking on or off for the next answers
/effort LEVEL    reasoning effort: {", ".join(validate.EFFORTS)}
/save FILE       write the conversation to FILE as JSONL (the --file format)
/help            this list
A line ending in \\ continues on the next line; //TEXT sends /TEXT.
Ctrl-C stops an answer (it is not kept) or drops the line being typed."""


class ChatLoop:
    def __init__(
        self, job: Job, history: History, max_history: int | None, system: SystemChange
    ) -> None:
        self.job = job
        self.history = history
        self.max_history = max_history
        self.system = system
        """The system prompt given here (flag or /system), or KEEP: the stored one."""
        self.params = job.params()
        self.history_file = data_dir(job.env.environ) / HISTORY_FILE

    def run(self) -> None:
        if not self.job.output.dry_run:
            self.job.settings.require_key()  # exit 3 now, not after the first line
        self.job.protocol.encode_params(self.params)  # a flag the protocol refuses: exit 2
        self._start_readline()
        try:
            self._banner()
            while (text := self._read()) is not None:
                if not text.strip():
                    continue
                if text.startswith("/") and not text.startswith("//"):
                    if not self._command(text):
                        break
                    continue
                self._turn(text[1:] if text.startswith("//") else text)
        finally:
            self._save_readline()

    # --- reading ---------------------------------------------------------------------

    def _read(self) -> str | None:
        """One input, continued over lines ending in `\\`; None at end of input."""
        lines: list[str] = []
        while True:
            try:
                line = input(MORE if lines else PROMPT)
            except KeyboardInterrupt:
                self._terminal("\n")  # as a shell does: drop the line, prompt again
                lines = []
                continue
            except EOFError:
                self._terminal("\n")
                return None
            if line.endswith("\\"):
                lines.append(line[:-1])
                continue
            lines.append(line)
            return "\n".join(lines)

    def _terminal(self, text: str) -> None:
        """Echo on stdout (the terminal); a stdout that fails ends the loop (exit 1)."""
        self.job.sink.write(text)

    # --- one exchange ------------------------------------------------------------------

    def _turn(self, text: str) -> None:
        options = TurnOptions(system=self.system, max_history=self.max_history, params=self.params)
        try:
            take_turn(self.job, self.history, text, options)
        except KeyboardInterrupt:
            self._interrupted()
        except (StdoutClosed, OutputError):  # nothing can be shown any more: glm ends
            raise
        except GlmError as error:  # the renderer has already ended its output
            self.job.sink.end_line()
            self.job.console.error(error.line())

    def _interrupted(self) -> None:
        console, sink = self.job.console, self.job.sink
        console.end_partial_line()
        if sink.started and not sink.ends_with_newline:
            sink.write("\n")
        console.line("glm: interrupted; that answer is not kept")

    # --- slash commands ------------------------------------------------------------------

    def _command(self, text: str) -> bool:
        """Run one slash command; False ends the loop."""
        parts = text[1:].split(None, 1)
        name = parts[0] if parts else ""
        argument = parts[1].strip() if len(parts) > 1 else ""
        console = self.job.console
        try:
            if name in ("exit", "quit"):
                return False
            if name == "reset":
                self.history.reset(self._stored_system())
                console.line("glm: the conversation is empty now")
            elif name == "system":
                self._system(argument)
            elif name == "think":
                self._think(argument)
            elif name == "effort":
                effort = validate.choice("/effort", argument, validate.EFFORTS)
                validate.think_and_effort(self.params.think, effort)
                self.params.effort = effort
            elif name == "save":
                self._save(argument)
            elif name == "help":
                console.line(HELP)
            else:
                raise UsageError(f"unknown command /{name} (/help lists the commands)")
        except KeyboardInterrupt:
            console.end_partial_line()
        except (StdoutClosed, OutputError):
            raise
        except GlmError as error:
            console.error(error.line())
        return True

    def _stored_system(self) -> str | None:
        """The system prompt the conversation keeps: given here, else the stored one."""
        if isinstance(self.system, Keep):
            return self.history.load().system
        return self.system

    def _system(self, text: str) -> None:
        if text:
            self.system = text
            return
        shown = self._stored_system()
        if shown is None and isinstance(self.system, Keep):
            shown = self.job.system()
        self.job.console.line(shown if shown is not None else "(no system prompt)")

    def _think(self, argument: str) -> None:
        choices = {"on": True, "off": False}
        if argument not in choices:
            raise UsageError(f"/think {argument!r}: must be on or off")
        validate.think_and_effort(choices[argument], self.params.effort)
        self.params.think = choices[argument]

    def _save(self, argument: str) -> None:
        if not argument:
            raise UsageError("/save needs a file name: /save FILE")
        conversation = self.history.load()
        system = conversation.system if isinstance(self.system, Keep) else self.system
        save(Path(argument), Conversation(system, conversation.messages))
        self.job.console.line(f"glm: saved {len(conversation.messages)} messages to {argument}")

    def _banner(self) -> None:
        if self.job.console.quiet:
            return
        if isinstance(self.history, MemoryHistory):
            where = "a new conversation"
        else:
            where = f"{self.history.label}, {len(self.history.load().messages)} messages"
        self.job.console.line(f"glm chat: {where}. /help lists the commands; Ctrl-D leaves.")

    # --- readline ------------------------------------------------------------------------

    def _start_readline(self) -> None:
        with contextlib.suppress(OSError):
            readline.read_history_file(self.history_file)
        readline.set_history_length(HISTORY_LENGTH)
        readline.set_completer(_complete)
        readline.set_completer_delims(" \t\n")
        libedit = "libedit" in (readline.__doc__ or "")
        readline.parse_and_bind("bind ^I rl_complete" if libedit else "tab: complete")

    def _save_readline(self) -> None:
        """The history file is private (mode 0600), like the store beside it. readline
        writes it by name, so it writes in a private folder and glm moves it into place."""
        try:
            self.history_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with private_folder(self.history_file) as folder:
                scratch = folder / self.history_file.name
                readline.write_history_file(scratch)
                write_atomically(self.history_file, scratch.read_bytes(), 0o600)
        except OSError:
            return


def _complete(text: str, state: int) -> str | None:
    """Tab completes the slash commands at the start of a line."""
    if readline.get_begidx() != 0 or not text.startswith("/"):
        return None
    matches = [command for command in COMMANDS if command.startswith(text)]
    return matches[state] if state < len(matches) else None

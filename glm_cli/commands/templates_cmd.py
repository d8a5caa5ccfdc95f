"""`glm templates list|show NAME|path`: the prompt templates of `-T NAME` (SPEC §9).

- `list`: the names of the folder's `*.toml` files, one a line, sorted (shell
  completions read it); nothing, and exit 0, when the folder does not exist.
- `show NAME`: the template file's text as it is (NAME may be a path, as with `-T`).
- `path`: the folder, whether or not it exists.
"""

from __future__ import annotations

from typing import Any

from glm_cli.core.errors import UsageError
from glm_cli.output.sink import Sink
from glm_cli.output.terminal import Env
from glm_cli.settings import templates


def run(name: str, given: dict[str, Any], env: Env) -> None:
    """Run `glm templates NAME`; its text goes to stdout through the one sink."""
    if name == "list":
        text = "".join(entry + "\n" for entry in templates.names(env.environ))
    elif name == "path":
        text = f"{templates.templates_dir(env.environ)}\n"
    else:
        wanted = given.get("name")
        if wanted is None:
            raise UsageError("glm templates show: give a template's name (see glm templates list)")
        _, text = templates.read_text(wanted, env.environ)
        if text and not text.endswith("\n"):
            text += "\n"
    Sink(env.stdout).write(text.encode("utf-8"))

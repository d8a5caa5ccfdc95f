"""From flags to values: command-line flags over a template over `[defaults]` over
built-in defaults.

`Flags` holds what the command line gave (None = not given), the template's
settings (`-T`, SPEC §9) and what the config file's `[defaults]` table says; every
value is checked by `validate` with the name of where it came from, so a bad
default names the file (or template) and the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glm_cli.cli import tools
from glm_cli.core import validate
from glm_cli.core.errors import UsageError
from glm_cli.core.fences import Extraction
from glm_cli.core.messages import RequestParams
from glm_cli.core.records import record
from glm_cli.core.service_rules import max_tokens_ceiling
from glm_cli.net.options import NetOptions
from glm_cli.settings.config import ConfigFile

if TYPE_CHECKING:
    from glm_cli.settings.templates import Template


EXTRACT_FLAGS = ("extract", "extract_last", "extract_lang")
"""One choice: given any of them, the command line's choice replaces a template's."""


class Flags:
    """The command line over a template (`-T`) over the config's `[defaults]`."""

    def __init__(
        self,
        given: dict[str, Any],
        config: ConfigFile | None = None,
        template: Template | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.given = given
        self.config = config
        self.template = template
        self.params = params or {}
        """`-p KEY=VALUE`: what fills the template's placeholders."""

    def cli(self, name: str) -> Any:
        """The value given on the command line, or None (`name` uses underscores)."""
        value = self.given.get(name)
        if isinstance(value, list | tuple) and not value:
            return None
        return value

    def lookup(self, name: str, *, use_defaults: bool = True) -> tuple[Any, str]:
        """(value, source) from the command line, else the template, else `[defaults]`;
        (None, "--name") if none. `use_defaults=False`: the command line only."""
        value = self.cli(name)
        flag = "--" + name.replace("_", "-")
        if value is not None or not use_defaults:
            return value, flag
        key = name.replace("_", "-")
        if self.template is not None:
            found = self._from_template(self.template, name, key)
            if found is not None:
                return found
        if self.config is not None and key in self.config.defaults:
            return self.config.defaults[key], self.config.where(f"defaults.{key}")
        return None, flag

    def _from_template(self, template: Template, name: str, key: str) -> tuple[Any, str] | None:
        if name == "system" and template.system is not None:
            from glm_cli.settings.templates import render_system

            return render_system(template, self.params), template.where("system")
        if name == "model" and template.model is not None:
            return template.model, template.where("model")
        if name in EXTRACT_FLAGS and any(self.cli(other) is not None for other in EXTRACT_FLAGS):
            return None
        if key in template.settings:
            return template.settings[key], template.where(key)
        return None

    def from_template(self, source: str, key: str) -> bool:
        """Whether `source` (from `lookup`) is the template's `key`."""
        return self.template is not None and source == self.template.where(key)

    def switch(self, name: str) -> bool:
        """A true/false flag: given, or from `[defaults]`, else false."""
        value, source = self.lookup(name)
        if value is None:
            return False
        return validate.boolean(source, value)


# Each request flag of SPEC §1.2: its name and the check that gives the value to send
# (`max_tokens`'s ceiling depends on the model: `check_ceiling`).
REQUEST_CHECKS: tuple[tuple[str, Callable[[str, Any], Any]], ...] = (
    ("effort", lambda source, value: validate.choice(source, value, validate.EFFORTS)),
    ("think", validate.boolean),
    ("temperature", lambda source, value: validate.two_decimals(source, value, 0.0, 1.0)),
    ("top_p", lambda source, value: validate.two_decimals(source, value, 0.0, 1.0)),
    ("top_k", lambda source, value: validate.integer(source, value, 0, validate.MAX_TOP_K)),
    ("max_tokens", lambda source, value: validate.integer(source, value, 1)),
    ("greedy", validate.boolean),
    ("stop", validate.stops),
    ("request_id", lambda source, value: validate.text_length(source, value, 6, 64)),
    ("user_id", lambda source, value: validate.text_length(source, value, 6, 128)),
)


def request_params(
    flags: Flags, protocol: str, *, model: str, use_defaults: bool = True
) -> RequestParams:
    """Check every request flag of SPEC §1.2, and what `protocol` and `model` allow of
    them, before anything is sent."""
    params = RequestParams()
    for name, check in REQUEST_CHECKS:
        value, source = flags.lookup(name, use_defaults=use_defaults)
        if value is not None:
            setattr(params, name, check(source, value))
    validate.think_and_effort(params.think, params.effort)
    params.tools = tools.request_tools(flags)
    tools.check_protocol(params.tools, protocol)
    check_top_p_range(params, protocol, flags.lookup("top_p", use_defaults=use_defaults)[1])
    check_ceiling(params, model, flags.lookup("max_tokens", use_defaults=use_defaults)[1])
    return params


def check_ceiling(params: RequestParams, model: str, source: str = "--max-tokens") -> None:
    """GLM-5.2's `max_tokens` ceiling applies to GLM-5.2; other models' limits (GLM-4.6
    128K, GLM-4.5 96K) are the service's to check."""
    ceiling = max_tokens_ceiling(model)
    if ceiling is not None and params.max_tokens is not None and params.max_tokens > ceiling:
        raise UsageError(
            f"{source} {params.max_tokens!r}: must be a whole number from 1 to {ceiling} "
            f"(the output limit of {model})"
        )


def check_top_p_range(params: RequestParams, protocol: str, source: str = "--top-p") -> None:
    """`top_p` is 0.01–1 on the OpenAI protocol; the Anthropic one also allows 0."""
    if protocol == "openai" and params.top_p is not None and params.top_p < 0.01:
        raise UsageError(
            f"{source} {params.top_p!r}: must be a number from 0.01 to 1 with at most two "
            "decimals (0 is allowed only on the anthropic protocol)"
        )


def net_options(flags: Flags) -> NetOptions:
    timeout, source = flags.lookup("timeout")
    max_time, max_source = flags.lookup("max_time")
    retries, retries_source = flags.lookup("retries")
    return NetOptions(
        timeout=validate.seconds(source, timeout) if timeout is not None else None,
        max_time=validate.seconds(max_source, max_time) if max_time is not None else None,
        retries=validate.integer(retries_source, retries, 0, 10) if retries is not None else 2,
    )


@record
class OutputOptions:
    ndjson: bool = False
    show_thinking: bool = False
    usage: bool = False
    sources: bool = False
    pretty: bool = False
    dry_run: bool = False
    debug: bool = False


def output_options(flags: Flags) -> OutputOptions:
    return OutputOptions(
        ndjson=bool(flags.cli("ndjson")),
        show_thinking=flags.switch("show_thinking"),
        usage=flags.switch("usage"),
        sources=flags.switch("sources"),
        pretty=flags.switch("pretty"),
        dry_run=bool(flags.cli("dry_run")),
        debug=bool(flags.cli("debug")),
    )


def extraction(flags: Flags) -> Extraction | None:
    """`-x`, `--extract-last`, `--extract-lang LANG` (SPEC §8): which block to print, or
    None for the whole answer as it streams."""
    last = flags.switch("extract_last")
    language, source = flags.lookup("extract_lang")
    if not (flags.switch("extract") or last or language is not None):
        return None
    if language is not None and not str(language).strip():
        raise UsageError(f"{source}: the language is empty")
    if flags.cli("ndjson"):
        raise UsageError("-x/--extract cannot be used with --ndjson (the lines are whole)")
    return Extraction(
        last=last,
        language=str(language).strip() if language is not None else None,
        strict=flags.switch("strict"),
    )

"""One batch line's request body: the command line's settings, overridden by the line's.

A glm line's settings are checked by the very checks of the flags (`cli.flags`), with
the line named in the message; an OpenAI Batch line's body is sent as given, with the
flags given on the command line over it, as `glm raw --body` does.
"""

from __future__ import annotations

from typing import Any

from glm_cli.cli.flags import Flags, check_ceiling, request_params
from glm_cli.cli.job import Job
from glm_cli.commands import json_cmd
from glm_cli.core import jsontext, validate
from glm_cli.core.batch_lines import Line
from glm_cli.core.errors import UnusableAnswer, UsageError
from glm_cli.core.messages import ChatRequest
from glm_cli.core.service_rules import messages_problem

Check = Any
"""What a JSON-mode line's answer is checked against: None (any JSON value) or a schema."""


class LineFlags(Flags):
    """The command line's flags, with one line's settings over them."""

    def __init__(self, base: Flags, settings: dict[str, Any], where: str) -> None:
        super().__init__(base.given, base.config, base.template, base.params)
        self.settings = settings
        self.where = where

    def cli(self, name: str) -> Any:
        if name in self.settings:
            return self.settings[name]
        return super().cli(name)

    def lookup(self, name: str, *, use_defaults: bool = True) -> tuple[Any, str]:
        if name in self.settings:
            return self.settings[name], f"{self.where}: {name}"
        return super().lookup(name, use_defaults=use_defaults)


class Requests:
    """Builds each line's body for one batch (what all lines share is decided once)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.protocol = job.protocol
        template = job.flags.template
        self.template = template
        self.template_system = (
            template is not None and template.system is not None and job.flags.cli("system") is None
        )
        """The template's system prompt is filled for each line, with the line's params."""
        self.system = None if self.template_system else job.system()
        self.schema = json_cmd.job_schema(job)
        """The template's schema: each line's unless it gives its own (or `json: false`)."""
        self.stream = bool(job.flags.cli("stream"))
        self.stream_usage = self.stream and job.settings.endpoint.provider.stream_usage
        self.overrides = job.protocol.encode_params(job.params(use_defaults=False)).body
        self.default_params = job.params()
        job.advise(self.default_params)  # once for the batch, from the command line's settings

    def body(self, line: Line) -> tuple[dict[str, Any], Check | None, bool]:
        """(body, JSON check, json mode) for `line`; UsageError for a bad setting."""
        where = f"line {line.index + 1}"
        if line.body is not None:
            return self._openai_body(line.body, where), None, False
        settings = line.settings
        json_mode = False
        schema: Any = None
        schema_text = None
        if "json" in settings:
            json_mode = validate.boolean(f"{where}: json", settings["json"])
        if "schema" in settings:
            schema = settings["schema"]
            schema_text = _check_schema(schema, where)
            json_mode = True
        elif self.schema[0] is not None and ("json" not in settings or json_mode):
            schema, schema_text = self.schema
            json_mode = True
        model = self.job.settings.model
        if "model" in settings:
            model = validate.non_empty(f"{where}: model", settings["model"])
        flags = LineFlags(self.job.flags, settings, where)
        if settings.keys() - {"json", "schema", "model"}:
            params = request_params(flags, self.protocol.name, model=model)
        else:
            params = _copy(self.default_params)
            check_ceiling(params, model, flags.lookup("max_tokens")[1])
        params.json_mode = json_mode
        params.stream_usage = self.stream_usage
        system, prompt = self._filled(line, where)
        if json_mode:
            system = json_cmd.system_with_hints(system, prompt, schema_text)
        messages = line.messages or [{"role": "user", "content": prompt}]
        request = ChatRequest(model, messages, system, stream=self.stream, params=params)
        return self.protocol.encode(request).body, schema, json_mode

    def _filled(self, line: Line, where: str) -> tuple[str | None, str]:
        """(system prompt, prompt) of a glm line: the template filled with the command
        line's `-p` and the line's `params` over them, the line's prompt as `{input}`."""
        template = self.template
        system = line.system if line.system is not None else self.system
        prompt = line.prompt or ""
        if template is None:
            return system, prompt
        from glm_cli.settings.templates import check_param_name, render_prompt, render_system

        for key in line.params:
            check_param_name(f"{where}: params.{key}", key)
        params = {**self.job.flags.params, **line.params}
        try:
            if line.system is None and self.template_system:
                system = render_system(template, params)
            if line.prompt is not None:
                prompt = render_prompt(template, params, line.prompt)
        except UsageError as error:
            raise UsageError(f"{where}: {error.message}") from error
        return system, prompt

    def _openai_body(self, given: dict[str, Any], where: str) -> dict[str, Any]:
        problem = messages_problem(given.get("messages"))
        if problem is not None:
            raise UsageError(f"{where}: body: {problem}")
        body = dict(given)
        body.update(self.overrides)
        flags = self.job.flags
        if flags.cli("system") is not None and self.system is not None:
            self.protocol.set_system(body, self.system)
        if flags.cli("model") is not None:
            body["model"] = self.job.settings.model
        body.setdefault("model", self.job.settings.model)
        body["stream"] = self.stream if flags.cli("stream") is not None else False
        return body


def _copy(params: Any) -> Any:
    from copy import copy

    return copy(params)


def _check_schema(schema: Any, where: str) -> str:
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict | bool):
        raise UsageError(f"{where}: schema must be a JSON Schema object")
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as error:
        raise UsageError(f"{where}: schema is not a valid JSON Schema ({error.message})") from error
    return jsontext.dumps(schema)


def check_json(text: str, schema: Any) -> None:
    """A JSON-mode line's answer: JSON, and valid against the line's schema (else exit 6)."""
    try:
        value = jsontext.parse(jsontext.unfence(text))
    except ValueError as error:
        raise UnusableAnswer(f"the answer is not valid JSON ({error})") from error
    if schema is not None:
        problem = json_cmd.schema_error(schema, value)
        if problem is not None:
            raise UnusableAnswer(f"the answer does not match the schema: {problem}")

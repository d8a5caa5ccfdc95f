"""SPEC §8 `-x/--extract`, `--extract-last`, `--extract-lang`, `--strict`: the fence
reader (`core.fences`) on fixtures for each case of issue 14, then the commands."""

from __future__ import annotations

import subprocess

import pytest

from glm_cli.core.fences import blocks, language_of, pick
from tests.fake_service import FakeService, Reply
from tests.helpers import ask, assert_one_error, assert_usage_error, run_in_process, warnings

SEVERAL = """Here is C++ first:

```c++
int main() { return 0; }
```

then Python:

~~~~ {.python}
print("hi")
~~~~

and C#, last:

```c#
class A {}
```
Hope it helps.
"""


@pytest.mark.parametrize(
    ("answer", "code", "language"),
    [
        ("```\nplain\n```\n", "plain\n", ""),
        ("````\nfour ``` inside\n````\n", "four ``` inside\n", ""),
        ("`````bash\nfive\n`````", "five\n", "bash"),
        ("~~~\ntilde\n~~~\n", "tilde\n", ""),
        ("~~~~~ sh\n~~~ not the end\n~~~~~\n", "~~~ not the end\n", "sh"),
        ("```c++\nint x;\n```\n", "int x;\n", "c++"),
        ("```c#\nvar x = 1;\n```\n", "var x = 1;\n", "c#"),
        ("```{.python}\nx = 1\n```\n", "x = 1\n", "python"),
        ("``` {.python .numberLines}\nx = 1\n```\n", "x = 1\n", "python"),
        ('```python title="a.py"\nx = 1\n```\n', "x = 1\n", "python"),
        ("Sure!\r\n\r\n```bash\r\necho hi\r\nls\r\n```\r\nDone.\r\n", "echo hi\nls\n", "bash"),
        ("Prose before.\n```js\nf()\n```\nProse after.", "f()\n", "js"),
        ("  ```\n  indented\n    more\n  ```\n", "indented\n  more\n", ""),
        ("```\n\n```\n", "\n", ""),
        ("```\n```\n", "", ""),
        ("```\nclosed by a longer fence\n`````\n", "closed by a longer fence\n", ""),
    ],
)
def test_one_block(answer: str, code: str, language: str) -> None:
    block = pick(answer)
    assert block is not None
    assert (block.code, block.language, block.closed) == (code, language, True)


def test_not_fences() -> None:
    assert blocks("``two`` only\n") == []
    assert blocks("```a`b\nnot a fence: a backtick in the info\n") == []
    assert blocks("    ```\n    indented four: code, not a fence\n") == []
    assert pick("no code at all") is None


def test_a_closing_fence_must_match_the_opening() -> None:
    block = pick("```\n~~~\n``\nstill in\n```\n")
    assert block is not None and block.code == "~~~\n``\nstill in\n"


def test_several_blocks_first_last_and_by_language() -> None:
    assert [b.language for b in blocks(SEVERAL)] == ["c++", "python", "c#"]
    first, last = pick(SEVERAL), pick(SEVERAL, last=True)
    assert first is not None and first.code == "int main() { return 0; }\n"
    assert last is not None and last.code == "class A {}\n"
    python = pick(SEVERAL, language="Python")
    assert python is not None and python.code == 'print("hi")\n'
    assert pick(SEVERAL, language="rust") is None


def test_an_unclosed_fence_runs_to_the_end() -> None:
    block = pick("Here:\n```python\ndef f():\n    return")
    assert block is not None
    assert (block.code, block.closed) == ("def f():\n    return\n", False)


def test_language_of() -> None:
    assert language_of("") == ""
    assert language_of("  Python3  ") == "Python3"
    assert language_of("{.haskell}") == "haskell"


# --- the commands ------------------------------------------------------------------------


def test_x_prints_only_the_first_block(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content=[SEVERAL[:40], SEVERAL[40:]], reasoning=None))
    run = ask("-x")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "int main() { return 0; }\n"
    assert run.stderr == ""


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--extract-last"], "class A {}\n"), (["--extract-lang", "python"], 'print("hi")\n')],
)
def test_last_and_by_language(
    glm_env: dict[str, str], service: FakeService, flags: list[str], expected: str
) -> None:
    service.script(Reply(content=SEVERAL, reasoning=None))
    run = ask(*flags)
    assert run.exit_code == 0, run.stderr
    assert run.stdout == expected


def test_no_block_prints_the_whole_answer(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="just prose", reasoning=None))
    run = ask("-x")
    assert (run.exit_code, run.stdout) == (0, "just prose\n")


def test_no_block_with_strict_is_exit_6(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="just prose", reasoning=None))
    run = ask("-x", "--strict")
    assert (run.exit_code, run.stdout) == (6, "")
    assert_one_error(run.stderr, "no code block in the answer (--strict)")
    service.script(Reply(content=SEVERAL, reasoning=None))
    run = ask("--extract-lang", "rust", "--strict")
    assert run.exit_code == 6
    assert_one_error(run.stderr, "no rust code block")


def test_an_unclosed_fence_at_length_gives_its_partial_content_and_a_warning(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(content="Here:\n```python\ndef f():\n    ret", reasoning=None, finish_reason="length")
    )
    run = ask("-x")
    assert run.exit_code == 0
    assert run.stdout == "def f():\n    ret\n"
    assert any("inside the code block" in line for line in warnings(run.stderr))


def test_chat_extracts_and_keeps_the_whole_answer(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=SEVERAL, reasoning=None))
    run = run_in_process(["chat", "--session", "code", "-x", "hi"])
    assert (run.exit_code, run.stdout) == (0, "int main() { return 0; }\n")
    shown = run_in_process(["chat", "--show", "code"])
    assert "Hope it helps." in shown.stdout


def test_x_with_ndjson_is_a_usage_error(glm_env: dict[str, str], service: FakeService) -> None:
    assert_usage_error(ask("-x", "--ndjson"), service, "--ndjson")


def test_x_in_a_pipeline_to_bash_n(glm_env: dict[str, str], service: FakeService) -> None:
    answer = "Try:\r\n\r\n```bash\r\nfind . -name '*.log' -mtime +7 -delete\r\n```\r\n"
    service.script(Reply(content=answer, reasoning=None))
    run = ask("-x")
    checked = subprocess.run(["bash", "-n"], input=run.out, capture_output=True)
    assert checked.returncode == 0, checked.stderr

"""Shared fixtures: the fake GLM services and an isolated environment for a run of glm."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_service import FakeService

TEST_API_KEY = "sk-test-secret-key-0123456789"
_PROXY_VARIABLES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


@pytest.fixture(scope="session")
def _service_session() -> Iterator[FakeService]:
    service = FakeService().start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def _fallback_session() -> Iterator[FakeService]:
    service = FakeService().start()
    yield service
    service.stop()


@pytest.fixture
def service(_service_session: FakeService) -> FakeService:
    """The fake GLM service, shared by the session, reset for each test."""
    _service_session.reset()
    return _service_session


@pytest.fixture
def fallback_service(_fallback_session: FakeService) -> FakeService:
    """A second, independent fake service (a fallback endpoint), reset for each test."""
    _fallback_session.reset()
    return _fallback_session


def _inherited(name: str) -> bool:
    """An environment variable that would change what glm does under test."""
    upper = name.upper()
    return (
        upper.startswith(("GLM_", "CLOUDSWAY_"))
        or upper in _PROXY_VARIABLES
        or name in {"EVOLINK_API_KEY", "NO_COLOR"}
    )


@pytest.fixture
def glm_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: FakeService
) -> dict[str, str]:
    """Environment for one run of glm against ``service``, set in ``os.environ`` (through
    monkeypatch) and returned whole for subprocesses. HOME exists; the XDG directories
    and GLM_HOME are paths under it that glm has to create itself."""
    for name in list(os.environ):
        if _inherited(name):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    settings = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "GLM_HOME": str(tmp_path / "glm-home"),
        "GLM_API_KEY": TEST_API_KEY,
        "GLM_BASE_URL": service.url,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture
def no_base_url(glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """No GLM_BASE_URL: the providers' own URLs (dry runs only: they are not reachable here)."""
    monkeypatch.delenv("GLM_BASE_URL")

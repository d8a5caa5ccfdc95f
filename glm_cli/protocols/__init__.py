"""Wire protocols: each module encodes the neutral request and decodes its own
responses and streams into neutral events. None of them touches the network."""

from __future__ import annotations

from glm_cli.protocols.base import WireProtocol


def get_protocol(name: str) -> WireProtocol:
    if name == "anthropic":
        from glm_cli.protocols.anthropic import AnthropicProtocol

        return AnthropicProtocol()
    from glm_cli.protocols.openai import OpenAIProtocol

    return OpenAIProtocol()

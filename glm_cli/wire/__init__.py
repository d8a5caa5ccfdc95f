"""Wire protocols: each module encodes the neutral request and decodes its own
responses and streams into neutral events. None of them touches the network."""

from __future__ import annotations

from glm_cli.wire.protocol import WireProtocol


def get_protocol(name: str) -> WireProtocol:
    if name == "anthropic":
        from glm_cli.wire.anthropic import AnthropicProtocol

        return AnthropicProtocol()
    from glm_cli.wire.openai import OpenAIProtocol

    return OpenAIProtocol()

"""The wire: SSE framing and the two protocols, bytes ↔ neutral events. Each protocol
encodes the neutral request and decodes its own responses; none touches the network."""

from __future__ import annotations

from glm_cli.wire.protocol import WireProtocol


def get_protocol(name: str) -> WireProtocol:
    if name == "anthropic":
        from glm_cli.wire.anthropic import AnthropicProtocol

        return AnthropicProtocol()
    from glm_cli.wire.openai import OpenAIProtocol

    return OpenAIProtocol()

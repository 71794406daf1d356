"""A stateful mock of four media-capture vendor APIs, driven by their OpenAPI contracts."""

__version__ = "0.1.0"

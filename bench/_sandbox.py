"""The one place bench/ imports the sandbox org from (its own distribution, sandbox/ in this repo)."""

from sandbox_org import generator, testing  # noqa: F401

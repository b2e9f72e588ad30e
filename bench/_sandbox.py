"""The one place bench/ imports the sandbox org from (it is moving to its own top-level package
`sandbox`: change this line, nothing else)."""

from conversion_sync.sandbox import generator, testing  # noqa: F401  (-> `from sandbox import ...`)

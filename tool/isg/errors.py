"""Exception types of the isg library. Only the CLI turns them into exit codes."""


class IsgError(Exception):
    """Base of every error the library raises on purpose."""


class RegistryError(IsgError):
    """The registry cannot be read at all (missing folder, unknown git ref...)."""


class UsageError(IsgError):
    """The caller asked for something that does not make sense."""

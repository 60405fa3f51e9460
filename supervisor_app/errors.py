"""The few exception classes every layer raises; the CLI turns them into exit codes."""

from __future__ import annotations


class ChronicleFleetError(Exception):
    """Base of every error this package raises on purpose."""


# The archiver's exit codes are a contract with whatever supervises it (sysexits.h).
EXIT_USAGE = 2  # its command line is wrong: a rendering bug, which retrying cannot fix
EXIT_TEMPORARY = 75  # EX_TEMPFAIL: retry later
EXIT_PERMANENT = 78  # EX_CONFIG: retrying cannot help until a person acts


class TemporaryError(ChronicleFleetError):
    """Retrying later may succeed without anyone acting (exit 75)."""


class ArchiveBusyError(TemporaryError):
    """Another archiver holds this venue's archive lock."""


class ArchiveRootMissingError(TemporaryError):
    """The archive root does not exist (yet): a mount that is not up, say."""


class ObjectStoreUnavailableError(TemporaryError):
    """The object store did not answer, or kept failing or throttling, through every retry."""


class PermanentError(ChronicleFleetError):
    """Retrying cannot help until a person changes something (exit 78)."""


class CorruptSegmentError(PermanentError):
    """A queue file does not hold what the chronicle format says it must."""


class CorruptPositionError(PermanentError):
    """A reader position file has no valid slot."""


class InvalidVenueError(PermanentError):
    """A venue name is not one safe path component."""


class ArchiveConflictError(PermanentError):
    """An archive file already exists with different bytes; we never overwrite it."""


class CorruptArchiveError(PermanentError):
    """An archive file does not decode to what its metadata says, or a metadata file is damaged."""


class ArchiveRootError(PermanentError):
    """The archive root cannot be created or written."""


class UnsafePathError(PermanentError):
    """A path we would read, write or lock through is a symbolic link or not a regular file: we refuse it."""


class ObjectStoreAccessError(PermanentError):
    """The object store refuses us: no or wrong credentials, no rights, no such bucket, another region."""


class ConfigError(ChronicleFleetError):
    """A fleet configuration file is invalid; `problems` lists every finding."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ControlError(ChronicleFleetError):
    """A control request to the running fleet failed."""


class SupervisordError(TemporaryError):
    """supervisord failed to start, stopped answering, or died; restarting the service may help."""

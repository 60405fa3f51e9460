"""Deploy-time checks against the disk and the object store: sources readable, archive roots writable or reachable.

Off in CI, where the paths of a production host do not exist. Disabled venues
are not checked: their queue may not exist yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from supervisor_app.archive_root import ArchiveRoot, S3Root, StoreSettings
from supervisor_app.config.problems import DataPath, Finding
from supervisor_app.config.resolve import Resolved
from supervisor_app.errors import ObjectStoreAccessError, ObjectStoreUnavailableError

_READABLE_DIR = os.R_OK | os.X_OK
_WRITABLE_DIR = os.W_OK | os.X_OK


def path_findings(resolved: Resolved) -> list[Finding]:
    """Problems with the directories the config names, as they are on this host now."""
    findings = [
        Finding(where, f"queue directory {venue.queue_dir} {problem}")
        for number, venue in enumerate(resolved.config.venues)
        if venue.enabled and (where := resolved.origin(("venues", number, "queue_dir"))) is not None
        for problem in _directory_problems(venue.queue_dir, _READABLE_DIR, "readable")
    ]
    checked: set[S3Root] = set()
    for where, root in _archive_roots(resolved):
        if isinstance(root, Path):
            findings += [Finding(where, problem) for problem in _archive_root_problems(root, resolved)]
        elif root not in checked:
            checked.add(root)
            problem = _bucket_problem(root, resolved.config.object_store)
            if problem is not None:
                findings.append(Finding(where, f"{root} {problem}"))
    return findings


def _archive_roots(resolved: Resolved) -> Iterator[tuple[DataPath, ArchiveRoot]]:
    """The fleet's archive root and each enabled venue's own, where declared."""
    if (where := resolved.origin(("archive_root",))) is not None:
        yield where, resolved.config.archive_root
    for number, venue in enumerate(resolved.config.venues):
        where = resolved.origin(("venues", number, "archive_root"))
        if venue.enabled and venue.archive_root is not None and where is not None:
            yield where, venue.archive_root


def _archive_root_problems(archive: Path, resolved: Resolved) -> Iterator[str]:
    """A root that must exist must be there; one that may be created must be creatable."""
    if archive.exists() or resolved.config.archive_root_must_exist:
        for problem in _directory_problems(archive, _WRITABLE_DIR, "writable"):
            hint = " (archive_root_must_exist is true: is it mounted?)" if problem == "does not exist" else ""
            yield f"{archive} {problem}{hint}"
        return
    parent = next(p for p in archive.parents if p.exists())  # the archivers create the rest
    for problem in _directory_problems(parent, _WRITABLE_DIR, "writable"):
        yield f"{archive} cannot be created: {parent} {problem}"


def _bucket_problem(root: S3Root, store: StoreSettings) -> str | None:
    """Why this user cannot list the root's bucket, or None: the bucket exists and the credentials are accepted.

    Listing is all that can be tried without writing; the archivers also need to put objects there.
    """
    from supervisor_app.archive.object_store.client import S3Client  # botocore: only with an s3:// root to check
    from supervisor_app.archive.object_store.settings import RetryPolicy, keep_awscrt_out

    keep_awscrt_out()
    client = S3Client(root, store, retry=RetryPolicy(attempts=2, connect_timeout_s=5.0, read_timeout_s=15.0))
    try:
        client.check_access(root.prefix)
    except ObjectStoreAccessError as error:
        return f"cannot be used by this user: {error}"
    except ObjectStoreUnavailableError as error:
        return f"cannot be reached: {error}"
    finally:
        client.close()
    return None


def _directory_problems(directory: Path, access: int, wanted: str) -> Iterator[str]:
    """At most one phrase saying what is wrong with `directory`."""
    if not directory.exists():
        yield "does not exist"
    elif not directory.is_dir():
        yield "is not a directory"
    elif not os.access(directory, access):
        yield f"is not {wanted} by this user"

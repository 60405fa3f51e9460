"""Where an archive lives: a local directory, or a bucket and key prefix in an S3 object store (`s3://bucket/prefix`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

S3_SCHEME = "s3://"
# S3's own rules for new bucket names: 3 to 63 lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"[0-9]+(\.[0-9]+){3}")
# The characters S3 calls safe in a key: no escaping in URLs, shells or supervisord's config.
_PREFIX_CHARS = re.compile(r"[A-Za-z0-9!_.*'()/-]*")
# Room under S3's 1024-byte key limit for what the archive adds (raw/v1/<venue>/<date>/raw/<file>).
MAX_PREFIX_CHARS = 768


@dataclass(frozen=True)
class S3Root:
    """An archive root in an object store: every key starts with `prefix` (no slash at either end; may be empty)."""

    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{S3_SCHEME}{self.bucket}"

    def key(self, *parts: str) -> str:
        """The key of `parts` joined below the prefix."""
        return "/".join(p for p in (self.prefix, *parts) if p)

    def __str__(self) -> str:
        return self.url


ArchiveRoot = Path | S3Root
AddressingStyle = Literal["auto", "path", "virtual"]
ADDRESSING_STYLES: tuple[AddressingStyle, ...] = ("auto", "path", "virtual")


@dataclass(frozen=True)
class StoreSettings:
    """Where the store is; credentials never appear here (the standard AWS chain finds them)."""

    endpoint: str | None = None  # e.g. http://10.0.0.5:8333; None: AWS S3
    region: str | None = None  # None: the AWS chain's (AWS_REGION, config file), else us-east-1
    addressing_style: AddressingStyle = "auto"  # auto: virtual-hosted on AWS, path style elsewhere


def is_s3_url(text: str) -> bool:
    return text.startswith(S3_SCHEME)


def parse_s3_url(text: str) -> S3Root:
    """`s3://bucket[/prefix]` as an S3Root; ValueError says what is wrong."""
    if not is_s3_url(text):
        raise ValueError(f"{text!r} does not start with {S3_SCHEME}")
    bucket, _, prefix = text[len(S3_SCHEME) :].partition("/")
    problem = bucket_problem(bucket) or prefix_problem(prefix)
    if problem is not None:
        raise ValueError(f"{text!r}: {problem}")
    return S3Root(bucket, prefix.rstrip("/"))


def parse_archive_root(text: str) -> ArchiveRoot:
    """An `s3://` URL as an S3Root, anything else as a local path."""
    return parse_s3_url(text) if is_s3_url(text) else Path(text)


def bucket_problem(bucket: str) -> str | None:
    """What makes `bucket` no valid bucket name, or None."""
    if not bucket:
        return "no bucket name after s3://"
    if not _BUCKET.fullmatch(bucket):
        return (
            f"bucket name {bucket!r} is not 3 to 63 lowercase letters, digits, '.' and '-',"
            " starting and ending with a letter or digit"
        )
    if ".." in bucket or _IP_ADDRESS.fullmatch(bucket):
        return f"bucket name {bucket!r} has two dots in a row or is an IP address"
    return None


def prefix_problem(prefix: str) -> str | None:
    """What makes `prefix` unusable as a key prefix, or None (a trailing slash is allowed and dropped)."""
    if not _PREFIX_CHARS.fullmatch(prefix):
        bad = next(c for c in prefix if not _PREFIX_CHARS.fullmatch(c))
        return f"the key prefix holds {bad!r}: use letters, digits and ! _ . * ' ( ) - /"
    if len(prefix) > MAX_PREFIX_CHARS:
        return f"the key prefix is {len(prefix)} characters long, more than {MAX_PREFIX_CHARS}"
    parts = prefix.rstrip("/").split("/")
    if prefix and any(part in ("", ".", "..") for part in parts):
        return "the key prefix has an empty, '.' or '..' part (a leading slash or '//')"
    return None

"""Command-line options that name an archive root and, for an `s3://` one, the object store behind it."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

from supervisor_app.archive_root import ADDRESSING_STYLES, ArchiveRoot, StoreSettings, is_s3_url, parse_s3_url

CREDENTIALS_HELP = """An s3://bucket/prefix archive root is in an object store: AWS S3, or --s3-endpoint for
SeaweedFS, MinIO, Ceph RGW... Credentials come from the standard AWS chain: the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE), the shared
credentials and config files, then the instance or container role.
"""


def archive_root_arg(text: str) -> ArchiveRoot:
    """A directory, or an `s3://bucket/prefix` checked as S3 would."""
    if not is_s3_url(text):
        return Path(text)
    try:
        return parse_s3_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def endpoint_arg(text: str) -> str:
    """`http(s)://host[:port]`, nothing after it."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise argparse.ArgumentTypeError(f"{text!r} is not http(s)://host[:port]")
    return f"{parts.scheme}://{parts.netloc}"


def add_store_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--s3-endpoint, --s3-region, --s3-addressing-style, in their own group (returned, for more)."""
    store = parser.add_argument_group("object store (s3:// archive roots only)")
    store.add_argument(
        "--s3-endpoint", type=endpoint_arg, help="the store's URL, e.g. http://10.0.0.5:8333 (default: AWS)"
    )
    store.add_argument("--s3-region", help="the bucket's region (default: the AWS chain's, else us-east-1)")
    store.add_argument(
        "--s3-addressing-style",
        choices=ADDRESSING_STYLES,
        default="auto",
        help="bucket in the path or in the host name (default auto: the host name on AWS, the path elsewhere)",
    )
    return store


def store_settings(args: argparse.Namespace) -> StoreSettings:
    return StoreSettings(args.s3_endpoint, args.s3_region, args.s3_addressing_style)

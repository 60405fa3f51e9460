"""The demo's working directory: its fleet config, bus, archive, state and logs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType

MARKER = ".chronicle-fleet-demo"
DEMO_VENUES = ("binance-perp", "coinbase", "okx-swap")  # sorted, as `status` and `verify` list them
DEMO_SYMBOLS = MappingProxyType({"binance-perp": "BTCUSDT", "okx-swap": "BTC-USDT-SWAP", "coinbase": "BTC-USD"})
SEGMENT_SIZE = 1024 * 1024  # rolls every second or so at the demo's rate

CONFIG_TEMPLATE = """\
# yaml-language-server: $schema={schema}
#
# Written by `chronicle-fleet demo`: three venues on one local bus; every path is
# relative to this file. Short restart delays so a killed archiver comes back at once.
version: 1
archive_root: archive

buses:
  demo: bus

defaults:
  compression:
    codec: zstd
    level: 3
    block_size: 256KiB
  archiver:
    poll_interval: 200ms

restart:
  initial_delay: 500ms
  max_delay: 5s
  healthy_after: 10s

supervisor:
  state_dir: state
  log_dir: logs
  log_max_bytes: 1MiB
  log_backups: 2
  stop_timeout: 5s

venues:
{venues}
"""


@dataclass(frozen=True)
class DemoWorkspace:
    """Paths of one demo run."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "fleet.yaml"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def supervisor_log(self) -> Path:
        return self.logs / "supervisor.jsonl"

    def queue(self, venue: str) -> Path:
        return self.root / "bus" / "streams" / "raw" / venue / "queue"

    def ledger(self, venue: str) -> Path:
        return self.root / "feeds" / f"{venue}.sealed.jsonl"


def create_workspace(root: Path) -> DemoWorkspace:
    """A fresh demo directory; a previous demo's is replaced, anything else is refused."""
    root = root.absolute()
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise FileExistsError(f"{root} exists and is not a demo directory; pick another with --workdir")
        shutil.rmtree(root)
    workspace = DemoWorkspace(root)
    for directory in (
        root,
        workspace.archive,
        workspace.logs,
        root / "feeds",
        *(workspace.queue(v).parent for v in DEMO_VENUES),
    ):
        directory.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("written by chronicle-fleet demo; safe to delete\n")
    schema = resources.files("supervisor_app.config").joinpath("fleet.schema.json")
    venues = "\n".join(f"  - name: {v}\n    bus: demo" for v in DEMO_VENUES)
    workspace.config.write_text(CONFIG_TEMPLATE.format(schema=schema, venues=venues))
    return workspace

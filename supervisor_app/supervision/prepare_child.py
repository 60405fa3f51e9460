"""`run` prepares configs in a child process: the validator stays out of the long-lived supervisor's memory.

Validating a config loads YAML, jsonschema and supervisord's config parser (~12 MiB that
Python never gives back). `run` lives for months and reloads configs, so it asks a short-
lived child (`python -m supervisor_app.supervision.prepare_child FILE`) instead. The child
answers one JSON document on stdout: the resolved config in the YAML's own names (what
`show-config` prints) and the rendered supervisord.conf, or the problems. The parent
resolves that document again (cheap, no YAML, no schema) into the same FleetConfig.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from supervisor_app.config.model import FleetConfig
from supervisor_app.config.problems import Problem
from supervisor_app.config.resolve import resolve_config
from supervisor_app.errors import ConfigError
from supervisor_app.supervision.render import RenderedFleet

CHILD_TIMEOUT_S = 120.0
_MODULE = "supervisor_app.supervision.prepare_child"


def prepare_in_child(path: Path) -> tuple[FleetConfig, RenderedFleet]:
    """What `install.prepare` gives, computed in a child; ConfigError with the problems, OSError if it fails."""
    argv = [sys.executable, "-m", _MODULE, str(path)]
    try:
        child = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise OSError(f"preparing {path} took longer than {CHILD_TIMEOUT_S:.0f} s") from error
    try:
        answer = json.loads(child.stdout)
    except ValueError:
        raise OSError(f"preparing {path} failed (exit {child.returncode}): {child.stderr.strip()[-2000:]}") from None
    if "problems" in answer:
        problems = [Problem(**problem) for problem in answer["problems"]]
        raise ConfigError(answer["error"], problems)
    config = resolve_config(answer["config"], path)
    return config, RenderedFleet(answer["supervisord_conf"], answer["programs"])


def _answer(path: Path) -> dict[str, Any]:
    from supervisor_app.config.dump import config_as_data
    from supervisor_app.supervision.install import prepare

    try:
        config, rendered = prepare(path)
    except ConfigError as error:
        problems = [
            p.as_dict()
            if isinstance(p, Problem)
            else {"file": str(path), "line": 1, "column": 1, "path": "", "message": str(p)}
            for p in error.problems
        ]
        return {"error": str(error).splitlines()[0], "problems": problems}
    return {"config": config_as_data(config), "supervisord_conf": rendered.text, "programs": dict(rendered.programs)}


def main() -> int:
    print(json.dumps(_answer(Path(sys.argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fleet declaration: strict YAML loading, the schema, checks with FILE:LINE:COL problems, the typed config.

Knows nothing of supervisord or processes: the supervision package reads what this one resolves.
The public names below are loaded on first use (PEP 562): `chronicle-fleet run`, which
only needs the typed config, must not pay for YAML and jsonschema by importing the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor_app.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from supervisor_app.config.dump import (
        config_as_data,
    )
    from supervisor_app.config.model import (
        ArchiverSettings,
        BusSource,
        CompressionPolicy,
        FleetConfig,
        LogSettings,
        MetricsSettings,
        ResourceLimits,
        RestartPolicy,
        SupervisorSettings,
        VenueConfig,
    )
    from supervisor_app.config.problems import (
        Finding,
        Problem,
        problems_as_json,
        problems_as_text,
    )
    from supervisor_app.config.schema import (
        load_schema,
        schema_text,
    )
    from supervisor_app.config.validation import (
        CheckedConfig,
        check_fleet_config,
        fleet_config_problems,
        load_fleet_config,
        locate_findings,
    )

_SOURCES = {
    "ArchiverSettings": "model",
    "BusSource": "model",
    "CheckedConfig": "validation",
    "CompressionPolicy": "model",
    "Finding": "problems",
    "FleetConfig": "model",
    "LogSettings": "model",
    "MetricsSettings": "model",
    "Problem": "problems",
    "ResourceLimits": "model",
    "RestartPolicy": "model",
    "SupervisorSettings": "model",
    "VenueConfig": "model",
    "check_fleet_config": "validation",
    "config_as_data": "dump",
    "fleet_config_problems": "validation",
    "load_fleet_config": "validation",
    "load_schema": "schema",
    "locate_findings": "validation",
    "problems_as_json": "problems",
    "problems_as_text": "problems",
    "schema_text": "schema",
}

__all__ = [
    "ArchiverSettings",
    "BusSource",
    "CheckedConfig",
    "CompressionPolicy",
    "Finding",
    "FleetConfig",
    "LogSettings",
    "MetricsSettings",
    "Problem",
    "ResourceLimits",
    "RestartPolicy",
    "SupervisorSettings",
    "VenueConfig",
    "check_fleet_config",
    "config_as_data",
    "fleet_config_problems",
    "load_fleet_config",
    "load_schema",
    "locate_findings",
    "problems_as_json",
    "problems_as_text",
    "schema_text",
]

__getattr__ = lazy_exports(__name__, _SOURCES)

"""The fleet declaration: strict YAML loading, the schema, checks with FILE:LINE:COL problems, the typed config.

Knows nothing of supervisord or processes: the supervision package reads what this one resolves.
"""

from supervisor_app.config.dump import config_as_data
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
from supervisor_app.config.schema import load_schema, schema_text
from supervisor_app.config.validation import (
    CheckedConfig,
    check_fleet_config,
    fleet_config_problems,
    load_fleet_config,
    locate_findings,
)

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

"""The fleet declaration: typed config, strict loading and validation."""

from supervisor_app.fleet.config import (
    ArchiverSettings,
    BusSource,
    CompressionPolicy,
    FleetConfig,
    LogSettings,
    RestartPolicy,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.fleet.dump import config_as_data
from supervisor_app.fleet.problems import (
    Finding,
    Problem,
    problems_as_json,
    problems_as_text,
)
from supervisor_app.fleet.schema import load_schema, schema_text
from supervisor_app.fleet.validation import (
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
    "Problem",
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

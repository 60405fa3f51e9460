"""Config data becomes the typed FleetConfig, each value remembering where the YAML declared it.

Resolution runs once, on data the schema may still reject: a value that cannot be
converted is left at its default (the schema reports it) and a venue whose name or
source cannot be worked out is left out, so the checks on typed values still run on
everything else and one pass reports every problem. The dataclasses' own defaults are
the fleet's defaults, so this module names none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from supervisor_app.archive_root import ArchiveRoot, StoreSettings, is_s3_url, parse_s3_url
from supervisor_app.config.converters import (
    ARCHIVER_FIELDS,
    COMPRESSION_FIELDS,
    RESOURCE_FIELDS,
    RESTART_FIELDS,
    STORE_FIELDS,
    Convert,
    Field,
    Unusable,
    as_mapping,
    byte_size,
    duration_s,
    flag,
    integer,
    listen_address,
    usable_path,
)
from supervisor_app.config.model import (
    ArchiverSettings,
    BusSource,
    CompressionPolicy,
    FleetConfig,
    LogSettings,
    MetricsSettings,
    RestartPolicy,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.config.problems import DataPath, Finding

Settings = TypeVar("Settings")
# A value's place in the typed config: ("venues", 0, "compression", "level") is
# config.venues[0].compression.level. Its DataPath says where the YAML declared it.
TypedPath = tuple[str | int, ...]
_PLACEHOLDER = Path("/")  # stands for a required path the file does not give usably; it has no origin


@dataclass(frozen=True)
class Resolved:
    """The typed config, where each of its values was declared, and references that lead nowhere."""

    config: FleetConfig
    origins: Mapping[TypedPath, DataPath]
    findings: tuple[Finding, ...]  # e.g. a venue on a bus that is not declared

    def origin(self, typed: TypedPath) -> DataPath | None:
        """Where the YAML declared this value; None for a built-in default (or a value it does not give)."""
        return self.origins.get(typed)

    def declared(self, typed: TypedPath, value: Settings) -> tuple[DataPath, Settings] | None:
        """(origin, value) when the file declares the value, else None: checks speak only of what is written."""
        origin = self.origin(typed)
        return None if origin is None else (origin, value)


def resolve(data: object, config_path: Path) -> Resolved:
    """The FleetConfig that `data`, read from `config_path`, declares, as far as it can be worked out."""
    return _Resolver(config_path.absolute()).resolve(as_mapping(data))


def resolve_config(data: object, config_path: Path) -> FleetConfig:
    """The FleetConfig of data that passed every check."""
    return resolve(data, config_path).config


@dataclass
class _Resolver:
    """One resolution's state: the config file and the origins found so far (mutable: it is the walk's state)."""

    path: Path
    origins: dict[TypedPath, DataPath] = dataclasses.field(default_factory=dict)
    findings: list[Finding] = dataclasses.field(default_factory=list)
    declared_buses: tuple[str, ...] = ()  # every name under `buses`, usable root or not

    @property
    def base(self) -> Path:
        return self.path.parent

    def resolve(self, data: Mapping[str, Any]) -> Resolved:
        defaults = as_mapping(data.get("defaults"))
        compression = self.overlay(
            CompressionPolicy(),
            defaults.get("compression"),
            COMPRESSION_FIELDS,
            ("compression",),
            ("defaults", "compression"),
        )
        archiver = self.archiver(ArchiverSettings(), defaults.get("archiver"), ("archiver",), ("defaults", "archiver"))
        buses = self.buses(as_mapping(data.get("buses")))
        venues = self.venues(data.get("venues"), buses, compression, archiver)
        config = FleetConfig(
            path=self.path,
            archive_root=self.required_root(data),
            venues=venues,
            supervisor=self.supervisor(as_mapping(data.get("supervisor"))),
            buses=buses,
            compression=compression,
            archiver=archiver,
            restart=self.overlay(RestartPolicy(), data.get("restart"), RESTART_FIELDS, ("restart",), ("restart",)),
            archive_root_must_exist=self.value(data, "archive_root_must_exist", flag, False),
            object_store=self.overlay(
                StoreSettings(), data.get("object_store"), STORE_FIELDS, ("object_store",), ("object_store",)
            ),
        )
        return Resolved(config, dict(self.origins), tuple(self.findings))

    def overlay(
        self, base: Settings, raw: object, fields: tuple[Field, ...], typed: TypedPath, declared: DataPath
    ) -> Settings:
        """`base` with each field that `raw` gives usably replaced by its converted value."""
        changes = {}
        for key, name, convert in fields:
            value = self.convert(as_mapping(raw), key, convert, (*declared, key))
            if value is not _MISSING:
                changes[name] = value
                self.origins[(*typed, name)] = (*declared, key)
        return dataclasses.replace(base, **changes)  # type: ignore[type-var]

    def convert(self, raw: Mapping[str, Any], key: str, convert: Convert, declared: DataPath) -> Any:
        """The converted value of `raw[key]`, or _MISSING; a reason the schema cannot see becomes a finding."""
        if key not in raw:
            return _MISSING
        try:
            return convert(raw[key])
        except Unusable as unusable:
            if unusable.reason is not None:
                self.findings.append(Finding(declared, unusable.reason))
            return _MISSING

    def value(self, raw: Mapping[str, Any], key: str, convert: Convert, default: Settings) -> Settings:
        """A top-level value, or `default`."""
        value = self.convert(raw, key, convert, (key,))
        if value is _MISSING:
            return default
        self.origins[(key,)] = (key,)
        return value

    def archiver(self, base: ArchiverSettings, raw: object, typed: TypedPath, declared: DataPath) -> ArchiverSettings:
        """Archiver settings over `base`, their resource limits merged field by field too."""
        settings = self.overlay(base, raw, ARCHIVER_FIELDS, typed, declared)
        resources = self.overlay(
            base.resources,
            as_mapping(raw).get("resources"),
            RESOURCE_FIELDS,
            (*typed, "resources"),
            (*declared, "resources"),
        )
        return dataclasses.replace(settings, resources=resources)

    def inherit(self, fields: tuple[Field, ...], parent: TypedPath, child: TypedPath) -> None:
        """A venue's settings start as the fleet's: so do their origins."""
        for _, name, _ in fields:
            origin = self.origins.get((*parent, name))
            if origin is not None:
                self.origins[(*child, name)] = origin

    def required_root(self, data: Mapping[str, Any]) -> ArchiveRoot:
        """The fleet's archive root: a directory or an s3:// URL."""
        root = self.convert(data, "archive_root", self.root_value, ("archive_root",))
        if root is _MISSING:
            return _PLACEHOLDER
        self.origins[("archive_root",)] = ("archive_root",)
        return root

    def root_value(self, text: object) -> ArchiveRoot:
        """`s3://bucket/prefix`, or a path resolved against the config file's directory."""
        if isinstance(text, str) and is_s3_url(text):
            try:
                return parse_s3_url(text)
            except ValueError as error:
                raise Unusable(str(error)) from error
        return self.path_value(text)

    def required_path(self, raw: object, typed: TypedPath, declared: DataPath) -> Path:
        path = usable_path(self.base, raw)
        if path is None:
            return _PLACEHOLDER
        self.origins[typed] = declared
        return path

    def buses(self, raw: Mapping[str, Any]) -> tuple[BusSource, ...]:
        self.declared_buses = tuple(raw)
        buses: list[BusSource] = []
        for name, root in raw.items():
            path = usable_path(self.base, root)
            if path is not None:
                self.origins[("buses", len(buses))] = ("buses", name)
                buses.append(BusSource(name, path))
        return tuple(buses)

    def venues(
        self,
        raw: object,
        buses: tuple[BusSource, ...],
        compression: CompressionPolicy,
        archiver: ArchiverSettings,
    ) -> tuple[VenueConfig, ...]:
        venues: list[VenueConfig] = []
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            venue = self.venue(as_mapping(item), index, len(venues), buses, compression, archiver)
            if venue is not None:
                venues.append(venue)
        return tuple(venues)

    def venue(
        self,
        raw: Mapping[str, Any],
        index: int,
        number: int,
        buses: tuple[BusSource, ...],
        compression: CompressionPolicy,
        archiver: ArchiverSettings,
    ) -> VenueConfig | None:
        name = raw.get("name")
        source = self.source(raw, index, name, buses)
        if not isinstance(name, str) or not name or source is None:
            return None
        typed, declared = ("venues", number), ("venues", index)
        queue_dir, source_text, source_key = source
        self.origins[(*typed, "name")] = (*declared, "name")
        self.origins[(*typed, "queue_dir")] = (*declared, source_key)
        enabled = raw.get("enabled", True)
        self.inherit(COMPRESSION_FIELDS, ("compression",), (*typed, "compression"))
        self.inherit(ARCHIVER_FIELDS, ("archiver",), (*typed, "archiver"))
        self.inherit(RESOURCE_FIELDS, ("archiver", "resources"), (*typed, "archiver", "resources"))
        archive_root = self.convert(raw, "archive_root", self.root_value, (*declared, "archive_root"))
        if archive_root is not _MISSING:
            self.origins[(*typed, "archive_root")] = (*declared, "archive_root")
        return VenueConfig(
            name=name,
            queue_dir=queue_dir,
            source=source_text,
            enabled=enabled if isinstance(enabled, bool) else True,
            compression=self.overlay(
                compression,
                raw.get("compression"),
                COMPRESSION_FIELDS,
                (*typed, "compression"),
                (*declared, "compression"),
            ),
            archiver=self.archiver(archiver, raw.get("archiver"), (*typed, "archiver"), (*declared, "archiver")),
            archive_root=None if archive_root is _MISSING else archive_root,
        )

    def source(
        self, raw: Mapping[str, Any], index: int, name: object, buses: tuple[BusSource, ...]
    ) -> tuple[Path, str, str] | None:
        """(queue directory, "bus:<name>" or "queue", the key that declares it), or None."""
        bus_name = raw.get("bus")
        if isinstance(bus_name, str):
            bus = next((bus for bus in buses if bus.name == bus_name), None)
            if bus_name not in self.declared_buses:
                self.findings.append(_unknown_bus(index, bus_name, self.declared_buses))
            elif bus is not None and isinstance(name, str) and name:
                return bus.queue_dir(name), f"bus:{bus.name}", "bus"
        queue = usable_path(self.base, raw.get("queue"))
        return None if queue is None else (queue, "queue", "queue")

    def supervisor(self, raw: Mapping[str, Any]) -> SupervisorSettings:
        log_fields: tuple[Field, ...] = (
            ("log_dir", "directory", self.log_directory),
            ("log_max_bytes", "max_bytes", byte_size),
            ("log_backups", "backups", integer),
        )
        logs = self.overlay(LogSettings(), raw, log_fields, ("supervisor", "logs"), ("supervisor",))
        state_dir = self.required_path(raw.get("state_dir"), ("supervisor", "state_dir"), ("supervisor", "state_dir"))
        metrics = self.overlay(
            MetricsSettings(),
            raw.get("metrics"),
            self.metrics_fields,
            ("supervisor", "metrics"),
            ("supervisor", "metrics"),
        )
        if isinstance(raw.get("metrics"), Mapping) and not {"listen", "textfile"} & raw["metrics"].keys():
            self.findings.append(Finding(("supervisor", "metrics"), "needs 'listen' or 'textfile' (or remove it)"))
        settings = SupervisorSettings(state_dir=state_dir, logs=logs, metrics=metrics)
        fields: tuple[Field, ...] = (
            ("stop_timeout", "stop_timeout_s", duration_s),
            ("max_compress_threads", "max_compress_threads", integer),
        )
        return self.overlay(settings, raw, fields, ("supervisor",), ("supervisor",))

    @property
    def metrics_fields(self) -> tuple[Field, ...]:
        return (
            ("listen", "listen", listen_address),
            ("textfile", "textfile", self.path_value),
            ("interval", "interval_s", duration_s),
        )

    def path_value(self, text: object) -> Path:
        path = usable_path(self.base, text)
        if path is None:
            raise Unusable
        return path

    def log_directory(self, text: object) -> Path | None:
        if text is None or text == "stdout":
            return None
        path = usable_path(self.base, text)
        if path is None:
            raise Unusable
        return path


def _unknown_bus(index: int, name: str, declared: tuple[str, ...]) -> Finding:
    listing = ", ".join(repr(bus) for bus in declared) or "none"
    return Finding(("venues", index, "bus"), f"unknown bus {name!r} (declared buses: {listing})")


_MISSING = object()

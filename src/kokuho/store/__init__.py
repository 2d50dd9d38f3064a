"""The operational database: engine set-up and migrations. Contexts own their tables."""

from kokuho.store._analytics import Analytics, AnalyticsUnavailable, spark_backend
from kokuho.store._bulk import bulk_insert
from kokuho.store._data_files import (
    DataFile,
    DataFileError,
    data_files,
    data_path,
    data_text,
    override_folder,
    override_of,
    shipped_folder,
    stray_overrides,
)
from kokuho.store._data_report import UnconfirmedValue, unconfirmed_values
from kokuho.store._engine import (
    AUDIT_SCHEMA,
    audit_database,
    connect,
    metadata,
    stored_utc,
    upgrade,
)
from kokuho.store._files import (
    FileTooLarge,
    PerThreadDuckDB,
    atomic_file,
    exclusive_lock,
    file_sha256,
    fsync_folders,
    is_temporary,
    read_capped,
    spreadsheet_text,
    sweep_temporary,
    utf8_not_cp932,
)
from kokuho.store._keys import chunks, key_table
from kokuho.store._lake_files import (
    IngestTally,
    LakeRoot,
    lake_table,
    manifest_files,
    months_only,
    read_manifest,
    sweep_uncommitted,
    taking_back,
    write_manifest,
)
from kokuho.store._problems import FileProblem, FileProblemsError
from kokuho.store._read_batch import ReadBatcher
from kokuho.store._replicas import UNREACHABLE, ReadRouter, ReplicaStatus
from kokuho.store._replicas_async import UNREACHABLE_ASYNC, AsyncReads, connect_kwargs
from kokuho.store._shown import BIDI_CLASS, BIDI_CONTROLS, has_control, quoted, shown_text
from kokuho.store._spare_core import spare_core
from kokuho.store._write_lock import Fence, WriteBusy, busy_refusal, write_transaction
from kokuho.store._yaml_loader import SafeYamlLoader, compose_yaml, load_yaml
from kokuho.store._yaml_nodes import YamlNode

__all__ = [
    "stored_utc",
    "AUDIT_SCHEMA",
    "audit_database",
    "SafeYamlLoader",
    "compose_yaml",
    "load_yaml",
    "Analytics",
    "AnalyticsUnavailable",
    "spark_backend",
    "DataFile",
    "DataFileError",
    "FileProblem",
    "FileProblemsError",
    "UNREACHABLE",
    "UNREACHABLE_ASYNC",
    "AsyncReads",
    "ReadBatcher",
    "connect_kwargs",
    "ReadRouter",
    "ReplicaStatus",
    "UnconfirmedValue",
    "YamlNode",
    "data_files",
    "data_path",
    "data_text",
    "override_folder",
    "override_of",
    "shipped_folder",
    "stray_overrides",
    "unconfirmed_values",
    "atomic_file",
    "exclusive_lock",
    "file_sha256",
    "FileTooLarge",
    "read_capped",
    "quoted",
    "utf8_not_cp932",
    "spreadsheet_text",
    "PerThreadDuckDB",
    "bulk_insert",
    "BIDI_CLASS",
    "BIDI_CONTROLS",
    "has_control",
    "shown_text",
    "spare_core",
    "chunks",
    "connect",
    "fsync_folders",
    "is_temporary",
    "sweep_temporary",
    "key_table",
    "IngestTally",
    "LakeRoot",
    "lake_table",
    "months_only",
    "manifest_files",
    "read_manifest",
    "sweep_uncommitted",
    "taking_back",
    "write_manifest",
    "metadata",
    "upgrade",
    "Fence",
    "WriteBusy",
    "busy_refusal",
    "write_transaction",
]

"""The checkpoint registry: flat YAML lists of entries, merged (user over shipped) and indexed at load time.

An entry::

    - id: wavenet-global-common            # unique, lower case
      model: wavenet
      conditioner: global
      triggers: [tapping_glass, whispering]  # the trigger(s) it serves
      codec: mulaw8
      sample_rate: 16000
      weights: {path: checkpoints/x.safetensors, sha256: <64 hex>, size: 12345}
      config: {...}                         # the resolved architecture config
      data: {...}                           # provenance of the training data
      metrics: {...}                        # held-out bits/sample ...
      license: CC0-1.0
      default: true                         # preferred when several entries serve the same lookup
      channels: 2                           # optional: a stereo variant (1, mono, when absent) ...
      pan_prior: pan-prior                  # ... whose mono output this registered pan prior places

Weight paths are relative to the registry file's directory and may not leave it. Times are seconds,
names are validated: YAML 1.1 reads ``1:30`` as 90 and ``no`` as False, so types are checked too.
This module must not import torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from asmr_zoo.errors import CheckpointError, RegistryError, UsageError
from asmr_zoo.triggers import validate_trigger_name
from asmr_zoo.validation import load_yaml

SCHEMA_VERSION = 1
REQUIRED = ("id", "model", "conditioner", "triggers", "codec", "sample_rate", "weights")
# The user registry as asmr-zoo writes it, between these lines: a file that starts with the first but lacks the
# last was cut short (half a file can still be valid YAML, e.g. an entry whose config lost its last fields).
# Files without the first (hand-written, older) are read as they are.
WRITTEN_HEAD = "# written by asmr-zoo (register / unregister); it ends with the line '# end of registry'\n"
WRITTEN_END = "# end of registry\n"
OPTIONAL = ("config", "data", "training", "metrics", "license", "default", "description", "channels", "pan_prior")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Entry:
    """One registered checkpoint."""

    id: str
    model: str
    conditioner: str
    triggers: list[str]
    codec: str
    sample_rate: int
    path: Path  # absolute, inside the registry file's directory
    sha256: str
    size: int
    source: Path  # the registry file it came from
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    license: str = ""
    default: bool = False
    description: str = ""
    channels: int = 1  # 2: a stereo variant, the generator's mono output placed by the pan prior ``pan_prior``
    pan_prior: str = ""  # a pan-prior entry's id (stereo variants only)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "conditioner": self.conditioner,
            "triggers": self.triggers,
            "codec": self.codec,
            "sample_rate": self.sample_rate,
            "weights": {"path": str(self.path), "sha256": self.sha256, "size": self.size},
            "config": self.config,
            "data": self.data,
            "metrics": self.metrics,
            "license": self.license,
            "default": self.default,
            "description": self.description,
            "channels": self.channels,
            **({"pan_prior": self.pan_prior} if self.pan_prior else {}),
            "registry": str(self.source),
        }

    def checked_path(self) -> Path:
        """The weights file, after checking it exists with the registered size (sha256 comes at load)."""
        if not self.path.is_file():
            raise CheckpointError(
                f"weights file {self.path} for checkpoint '{self.id}' is missing; restore it or remove the "
                f"entry from {self.source}"
            )
        size = self.path.stat().st_size
        if size != self.size:
            raise CheckpointError(
                f"weights file {self.path} for checkpoint '{self.id}' has {size} bytes, the registry says "
                f"{self.size}: the file is truncated or replaced; restore it or re-register it"
            )
        return self.path

    def load(self, zoo: Any = None) -> Any:
        """The model, sha256-verified, its metadata checked against this entry."""
        from asmr_zoo.checkpoints import load_checkpoint

        model = load_checkpoint(
            self.checked_path(),
            sha256=self.sha256,
            expect={
                "model": self.model,
                "conditioner": self.conditioner,
                "codec": self.codec,
                "sample_rate": str(self.sample_rate),
            },
            zoo=zoo,
        )
        missing = [t for t in self.triggers if model.conditioner.conditioned and t not in model.conditioner.vocabulary]
        if missing:
            raise CheckpointError(
                f"checkpoint '{self.id}' is registered for trigger '{missing[0]}' but its vocabulary is "
                f"{list(model.conditioner.vocabulary)}: fix the entry in {self.source}"
            )
        return model


def validate_id(entry_id: str) -> str:
    if not isinstance(entry_id, str) or not _ID_RE.match(entry_id):
        raise UsageError(f"checkpoint id {entry_id!r} must be lower case letters, digits, '.', '_' or '-'")
    return entry_id


def _entry(raw: Any, index: int, source: Path) -> tuple[Entry, list[str]]:
    """Validate one raw entry; return it and warnings. Raises RegistryError naming the entry."""
    label = f"{source}: entry {index + 1}"
    if not isinstance(raw, dict):
        raise RegistryError(f"{label} is not a mapping (got {type(raw).__name__})")
    if isinstance(raw.get("id"), str):
        label += f" ('{raw['id']}')"
    problems: list[str] = [f"missing required key '{k}'" for k in REQUIRED if k not in raw]
    warnings = [f"{label}: unknown key '{k}' ignored" for k in raw if k not in REQUIRED + OPTIONAL]
    if problems:
        raise RegistryError(f"{label}: " + "; ".join(problems))
    for key in ("id", "model", "conditioner", "codec"):
        if not isinstance(raw[key], str) or not raw[key]:
            problems.append(f"'{key}' must be a non-empty string (got {raw[key]!r}; quote it in YAML)")
    if isinstance(raw["id"], str) and not _ID_RE.match(raw["id"]):
        problems.append(f"id '{raw['id']}' must be lower case letters, digits, '.', '_' or '-'")
    triggers = raw["triggers"]
    if isinstance(triggers, str):
        triggers = [triggers]
    if not isinstance(triggers, list) or not triggers:
        problems.append("'triggers' must be a non-empty list of trigger names")
        triggers = []
    for trigger in triggers:
        try:
            validate_trigger_name(trigger)
        except UsageError as exc:
            problems.append(str(exc))
    if not isinstance(raw["sample_rate"], int) or isinstance(raw["sample_rate"], bool) or raw["sample_rate"] <= 0:
        problems.append(f"'sample_rate' must be a positive integer (got {raw['sample_rate']!r})")
    weights = raw["weights"]
    path = None
    if not isinstance(weights, dict):
        problems.append("'weights' must be a mapping with path, sha256 and size")
        weights = {}
    else:
        for key in ("path", "sha256", "size"):
            if key not in weights:
                problems.append(f"'weights' lacks '{key}'")
        sha = weights.get("sha256")
        if "sha256" in weights and not (isinstance(sha, str) and _SHA_RE.match(sha)):
            problems.append("'weights.sha256' must be 64 lower-case hex digits")
        size = weights.get("size")
        if "size" in weights and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            problems.append("'weights.size' must be a positive integer (bytes)")
        rel = weights.get("path")
        if "path" in weights:
            if not isinstance(rel, str) or not rel or Path(rel).is_absolute():
                problems.append(f"'weights.path' must be a relative path (got {rel!r})")
            else:
                base = source.parent.resolve()
                path = (base / rel).resolve()
                if not path.is_relative_to(base):
                    problems.append(f"'weights.path' {rel!r} escapes the registry's directory {base}")
    for key in ("config", "data", "metrics"):
        if key in raw and not isinstance(raw[key], dict):
            problems.append(f"'{key}' must be a mapping")
    if not isinstance(raw.get("default", False), bool):
        problems.append(f"'default' must be true or false (got {raw['default']!r}; quoted \"false\" is a string)")
    channels, pan_prior = raw.get("channels", 1), raw.get("pan_prior", "")
    if channels not in (1, 2) or isinstance(channels, bool):
        problems.append(f"'channels' must be 1 or 2 (got {channels!r})")
    elif (channels == 2) != bool(pan_prior):
        problems.append("a stereo entry ('channels: 2') names the id of its 'pan_prior', and only a stereo one does")
    elif pan_prior and not (isinstance(pan_prior, str) and _ID_RE.match(pan_prior)):
        problems.append(f"'pan_prior' must be a checkpoint id (got {pan_prior!r})")
    if problems:
        raise RegistryError(f"{label}: " + "; ".join(problems))
    return Entry(
        id=raw["id"],
        model=raw["model"],
        conditioner=raw["conditioner"],
        triggers=list(triggers),
        codec=raw["codec"],
        sample_rate=raw["sample_rate"],
        path=path,
        sha256=weights["sha256"],
        size=weights["size"],
        source=source,
        config=raw.get("config") or {},
        data=raw.get("data") or {},
        metrics=raw.get("metrics") or {},
        license=str(raw.get("license", "")),
        default=raw.get("default", False),
        description=str(raw.get("description", "")),
        channels=channels,
        pan_prior=pan_prior or "",
    ), warnings


def read_registry_file(path: Path) -> tuple[list[Entry], list[str]]:
    """Parse and validate one registry YAML file: its entries and warnings."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"registry {path} is not UTF-8 text (byte {exc.start}): fix or delete the file") from None
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc.strerror}; fix or delete it") from exc
    if text.startswith(WRITTEN_HEAD) and not text.endswith(WRITTEN_END):  # a cut can leave valid YAML
        raise RegistryError(
            f"registry {path} is cut short (asmr-zoo ends it with '{WRITTEN_END.strip()}'): restore it, or "
            f"delete the file to start afresh"
        )
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RegistryError(f"registry {path} is not valid YAML{where}: fix or delete the file") from exc
    if doc is None:  # asmr-zoo writes atomically, so an empty registry is damage, not a fresh start
        raise RegistryError(f"registry {path} is empty: restore it, or delete the file to start afresh")
    if not isinstance(doc, dict) or "entries" not in doc:
        raise RegistryError(f"registry {path} must be a mapping with 'schema_version' and 'entries'")
    version = doc.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise RegistryError(f"registry {path}: schema_version must be an integer")
    if version > SCHEMA_VERSION:
        raise RegistryError(
            f"registry {path} has schema version {version}; this asmr-zoo reads up to {SCHEMA_VERSION}: "
            f"upgrade asmr-zoo"
        )
    raw_entries = doc["entries"] or []
    if not isinstance(raw_entries, list):
        raise RegistryError(f"registry {path}: 'entries' must be a list")
    entries, warnings, errors = [], [], []
    seen: set[str] = set()
    for i, raw in enumerate(raw_entries):
        try:
            entry, entry_warnings = _entry(raw, i, path)
        except RegistryError as exc:
            errors.append(str(exc))
            continue
        if entry.id in seen:
            errors.append(f"{path}: id '{entry.id}' appears twice")
        seen.add(entry.id)
        entries.append(entry)
        warnings.extend(entry_warnings)
    if errors:
        raise RegistryError(" | ".join(errors))
    return entries, warnings


class Registry:
    """All registry files merged: later (user) entries override earlier (shipped) ones with the same id."""

    def __init__(self, files: list[Path], user_file: Path | None = None) -> None:
        self.entries: dict[str, Entry] = {}
        self.warnings: list[str] = []
        self.user_ids: set[str] = set()
        for path in files:
            entries, warnings = read_registry_file(path)
            self.warnings.extend(warnings)
            taken = sorted({e.id for e in entries} & set(self.entries))
            if taken:  # a plugin's file must not shadow an earlier (e.g. shipped) entry: skip that file
                other = self.entries[taken[0]].source
                self.warnings.append(
                    f"skipped registry file {path}: checkpoint id '{taken[0]}' is already registered by {other}"
                )
                continue
            for entry in entries:
                self.entries[entry.id] = entry
        if user_file is not None and user_file.exists():  # a directory there is an error, not "no registry"
            entries, warnings = read_registry_file(user_file)
            self.warnings.extend(warnings)
            for entry in entries:
                self.entries[entry.id] = entry
                self.user_ids.add(entry.id)

    def get(self, entry_id: str) -> Entry:
        if entry_id not in self.entries:
            raise UsageError(f"no checkpoint with id '{entry_id}'; see `asmr-zoo list --kind checkpoints` for the ids")
        return self.entries[entry_id]

    def find(
        self, model: str | None = None, conditioner: str | None = None, trigger: str | None = None, channels: int = 1
    ) -> list[Entry]:
        """Entries matching the given fields (mono ones unless ``channels`` is 2), best first: user entries,
        then defaults, then file order."""
        hits = [
            e
            for e in self.entries.values()
            if (model is None or e.model == model)
            and (conditioner is None or e.conditioner == conditioner)
            and (trigger is None or trigger in e.triggers)
            and e.channels == channels
        ]
        return sorted(hits, key=lambda e: (e.id not in self.user_ids, not e.default))

    def resolve(self, model: str, conditioner: str, trigger: str, channels: int = 1) -> Entry:
        """The one default entry for (model, conditioner, trigger), a stereo variant for ``channels`` 2; an
        error says what is available."""
        hits = self.find(model, conditioner, trigger, channels)
        if hits:
            return hits[0]
        if channels == 2:
            stereo = sorted(f"{e.model} -c {e.conditioner}" for e in self.entries.values() if e.channels == 2)
            raise UsageError(
                f"no stereo {model} / {conditioner} checkpoint serves '{trigger}' (stereo ones: "
                f"{', '.join(sorted(set(stereo))) or 'none'}); render a mono one binaurally with --spatialize PATH "
                f"(left, right, center, ear-to-ear, circle), or afterwards with `asmr-zoo spatialize` or "
                f"`asmr-zoo upmix`"
            )
        served = sorted({t for e in self.find(model, conditioner) for t in e.triggers})
        if served:
            raise UsageError(
                f"no {model} / {conditioner} checkpoint for trigger '{trigger}'; available triggers: "
                f"{', '.join(served)}"
            )
        pairs = sorted({f"{e.model} --conditioner {e.conditioner}" for e in self.entries.values()})
        raise UsageError(
            f"no checkpoint registered for {model} with conditioner '{conditioner}'; registered: "
            f"{', '.join(pairs) or 'none'} (train one with `asmr-zoo train` and `asmr-zoo register` it)"
        )


def load_registry(zoo: Any = None) -> Registry:
    """The merged registry: plugin-provided files (the shipped one first), then the user registry."""
    from asmr_zoo.paths import user_registry
    from asmr_zoo.plugins import get_zoo

    zoo = zoo or get_zoo()
    return Registry([path for path, _plugin in zoo.registry_files], user_registry())


def entry_from_checkpoint(path: Path, registry_dir: Path, entry_id: str, triggers: list[str], **fields: Any) -> dict:
    """A registry entry (as written to YAML) for the checkpoint at ``path`` inside ``registry_dir``:
    model, codec, rate and config from its metadata; data provenance and metrics from its ``extra.*``."""
    from asmr_zoo.checkpoints import read_metadata

    meta = read_metadata(path)
    try:
        entry = _entry_fields(meta, path, registry_dir, entry_id, triggers)
    except (KeyError, ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(
            f"{path} has malformed asmr_zoo metadata ({type(exc).__name__}: {exc}); re-save it with `asmr-zoo train`"
        ) from None
    entry.update(fields)
    return entry


def _entry_fields(meta: dict[str, str], path: Path, registry_dir: Path, entry_id: str, triggers: list[str]) -> dict:
    import json

    from asmr_zoo.checkpoints import sha256_file

    return {
        "id": validate_id(entry_id),
        "model": meta["model"],
        "conditioner": meta["conditioner"],
        "triggers": triggers,
        "codec": meta["codec"],
        "sample_rate": int(meta["sample_rate"]),
        "weights": {
            "path": path.resolve().relative_to(registry_dir.resolve()).as_posix(),
            "sha256": sha256_file(path),
            "size": path.stat().st_size,
        },
        "config": json.loads(meta["config"]),
        "data": json.loads(meta.get("extra.data", "{}")),
        "metrics": json.loads(meta.get("extra.metrics", "{}")),
    }


def user_registry_lock(path: Path) -> Any:
    """An exclusive lock on the user registry ``path`` (held for a whole read-modify-write)."""
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.with_name(f".{path.name}.lock")), timeout=60)


def _read_user_doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "entries": []}
    if path.exists():  # a file we cannot read (or a directory) is refused, never rewritten
        read_registry_file(path)
        doc = load_yaml(path.read_text(encoding="utf-8"))
    return doc


def _write_user_doc(doc: dict[str, Any], path: Path) -> None:
    from asmr_zoo.checkpoints import atomic_write

    text = WRITTEN_HEAD + yaml.safe_dump(doc, sort_keys=False) + WRITTEN_END

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")
        read_registry_file(tmp)  # validate before it replaces the old file

    atomic_write(path, write)


def user_entry(path: Path, entry_id: str) -> dict[str, Any] | None:
    """The raw user-registry entry with ``entry_id``, or None."""
    return next((e for e in _read_user_doc(path).get("entries") or [] if e.get("id") == entry_id), None)


def clean_orphans(path: Path) -> list[Path]:
    """Remove what a killed ``register`` can leave in the user registry's checkpoints folder (the caller holds
    ``user_registry_lock``): temp files of an atomic write, and weight copies no entry points at."""
    folder = path.parent / "checkpoints"
    if not folder.is_dir():
        return []
    used = {w for e in _read_user_doc(path).get("entries") or [] if (w := weights_file(e, path)) is not None}
    orphans = [f for f in folder.glob(".*.tmp")] + [f for f in folder.glob("*.safetensors") if f.resolve() not in used]
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return orphans


def add_user_entry(entry: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """Add (or replace, by id) an entry in the user registry at ``path``, atomically; the caller holds
    ``user_registry_lock``. Returns the entry it replaced, if any."""
    doc = _read_user_doc(path)
    entries = doc.get("entries") or []
    old = next((e for e in entries if e.get("id") == entry["id"]), None)
    doc["entries"] = [e for e in entries if e.get("id") != entry["id"]] + [entry]
    _write_user_doc(doc, path)
    return old


def remove_user_entry(entry_id: str, path: Path) -> dict[str, Any]:
    """Remove ``entry_id`` from the user registry (the caller holds the lock); returns the removed entry."""
    doc = _read_user_doc(path)
    entries = doc.get("entries") or []
    old = next((e for e in entries if e.get("id") == entry_id), None)
    if old is None:
        raise UsageError(f"'{entry_id}' is not in your user registry {path}; see `asmr-zoo list --kind checkpoints`")
    doc["entries"] = [e for e in entries if e.get("id") != entry_id]
    _write_user_doc(doc, path)
    return old


def weights_file(entry: dict[str, Any], path: Path) -> Path | None:
    """The weights file of a raw user entry, when it lies inside the user registry's folder."""
    rel = (entry.get("weights") or {}).get("path")
    if not isinstance(rel, str):
        return None
    target = (path.parent / rel).resolve()
    return target if target.is_relative_to(path.parent.resolve()) else None

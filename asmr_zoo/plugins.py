"""The plugin manager: loads ``asmr_zoo`` entry points one by one and keeps a table of what happened.

A plugin that fails to import, fails hook validation, names an unknown hook, raises inside a hook or
registers a component name another plugin already took is recorded as ``failed`` with its error and
skipped: everything else keeps working. Each plugin loads all-or-nothing.

Environment switches:
- ``ASMR_ZOO_STRICT_PLUGINS=1``: re-raise plugin failures instead of recording them;
- ``ASMR_ZOO_LOAD_PLUGINS=a,b``: load only these plugins (the others are ``blocked``);
- ``ASMR_ZOO_DISABLE_PLUGINS=a,b``: block these plugins;
- ``ASMR_ZOO_TRACE_PLUGINS=1``: print each hook call to stderr.

This module must not import torch: ``--help``, ``list`` and ``plugins`` use it.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy

from asmr_zoo import hookspecs
from asmr_zoo.errors import PluginError, UsageError

GROUP = "asmr_zoo"
CORE_DISTRIBUTION = "asmr-zoo"
KINDS = ("models", "conditioners", "samplers", "codecs", "sources")
HOOKS = (*(f"register_{kind}" for kind in KINDS), "register_registry_files", "register_commands")


def singular(kind: str) -> str:
    return kind[:-1]


@dataclass
class Component:
    """A registered component: ``target`` is the object itself or a lazy ``"module:attr"`` string."""

    kind: str
    name: str
    target: Any
    plugin: str
    description: str = ""

    def load(self) -> Any:
        """The component class (importing it on first use)."""
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            try:
                self.target = getattr(importlib.import_module(module_name), attr)
            except (Exception, SystemExit) as exc:  # a broken plugin module: report, do not crash
                raise PluginError(
                    f"{singular(self.kind)} '{self.name}' from plugin '{self.plugin}' could not be loaded "
                    f"from {self.target!r}: {type(exc).__name__}: {exc}"
                ) from exc
        return self.target

    @property
    def summary(self) -> str:
        if self.description:
            return self.description
        if isinstance(self.target, str):
            return ""
        doc = (getattr(self.target, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


@dataclass
class PluginRecord:
    """One row of the plugin table shown by ``asmr-zoo plugins``."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "loaded"  # loaded / failed / blocked
    hooks: list[str] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "hooks": self.hooks,
            "error": self.error,
        }


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _marked_hooks(module: object) -> list[str]:
    """Names of the functions in ``module`` marked with ``@asmr_zoo.hookimpl``."""
    marker = f"{GROUP}_impl"
    return sorted(name for name in dir(module) if getattr(getattr(module, name, None), marker, None) is not None)


class Zoo:
    """The loaded plugins and the components they registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginRecord] = {}
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        self.registry_files: list[tuple[Path, str]] = []
        self.strict = _env_flag("ASMR_ZOO_STRICT_PLUGINS")
        self.trace = _env_flag("ASMR_ZOO_TRACE_PLUGINS")

    # -- loading -----------------------------------------------------------------------------------

    def load_entry_points(self, eps: Iterable[EntryPoint] | None = None, app: Any = None) -> None:
        """Load plugins from entry points (by default the installed ``asmr_zoo`` group)."""
        if eps is None:
            eps = entry_points(group=GROUP)

        def order(ep: EntryPoint) -> tuple[bool, str, str]:
            dist = ep.dist.name if ep.dist else ""
            return (dist != CORE_DISTRIBUTION, dist, ep.name)

        only, disabled = _env_list("ASMR_ZOO_LOAD_PLUGINS"), _env_list("ASMR_ZOO_DISABLE_PLUGINS") or set()
        for ep in sorted(eps, key=order):
            record = PluginRecord(
                name=ep.name,
                distribution=ep.dist.name if ep.dist else "",
                version=ep.dist.version if ep.dist else "",
                module=ep.value,
            )
            if ep.name in self.plugins:
                record.status, record.error = (
                    "failed",
                    (f"plugin name '{ep.name}' is already used by distribution '{self.plugins[ep.name].distribution}'"),
                )
                record.name = f"{ep.name} ({record.distribution or ep.value})"  # the first one keeps its row
                self._record(record, PluginError(record.error))
                continue
            if only is not None and ep.name not in only:
                record.status, record.error = "blocked", "not listed in ASMR_ZOO_LOAD_PLUGINS"
            elif ep.name in disabled:
                record.status, record.error = "blocked", "listed in ASMR_ZOO_DISABLE_PLUGINS"
            if record.status == "blocked":
                self.plugins[ep.name] = record
                continue
            try:
                module = ep.load()
            except (Exception, SystemExit) as exc:  # sys.exit() at import must not end every command
                record.status, record.error = "failed", f"import failed: {type(exc).__name__}: {exc}"
                self._record(record, exc)
                continue
            self.add_plugin(module, record, app)

    def add_plugin(self, module: object, record: PluginRecord, app: Any = None) -> None:
        """Register one plugin object, all-or-nothing; failures are recorded (or raised in strict mode)."""
        try:
            self._add_plugin(module, record, app)
        except (Exception, SystemExit) as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            record.status = "failed"
            record.error = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            self._record(record, exc)
        else:
            self.plugins[record.name] = record

    def _record(self, record: PluginRecord, exc: BaseException) -> None:
        self.plugins[record.name] = record
        if self.trace:
            print(f"asmr-zoo: plugin {record.name}: {record.status}: {record.error}", file=sys.stderr)
        if self.strict:
            raise PluginError(f"plugin '{record.name}' failed: {record.error}") from exc

    def _add_plugin(self, module: object, record: PluginRecord, app: Any) -> None:
        marked = _marked_hooks(module)
        unknown = [name for name in marked if name not in HOOKS]
        if unknown:
            hint = difflib.get_close_matches(unknown[0], HOOKS, n=1)
            raise PluginError(
                f"unknown hook '{unknown[0]}'"
                + (f" (did you mean '{hint[0]}'?)" if hint else f"; hooks are: {', '.join(HOOKS)}")
            )
        self.pm.register(module, name=record.name)  # validates hook signatures
        record.hooks = marked
        staged: list[Component] = []
        files: list[tuple[Path, str]] = []
        for kind in KINDS:

            def register(name: str, target: Any, description: str = "", _kind: str = kind) -> None:
                if not isinstance(name, str) or not name:
                    raise PluginError(f"register_{_kind}: component name must be a non-empty string")
                staged.append(Component(_kind, name, target, record.name, description))

            self._call(module, f"register_{kind}", record, register=register)
        self._call(module, "register_registry_files", record, register=lambda p: files.append((Path(p), record.name)))
        staging_app = None
        if app is not None and "register_commands" in marked:
            import typer

            staging_app = typer.Typer()
            self._call(module, "register_commands", record, app=staging_app)
        self._commit(staged, record, files, app, staging_app)

    def _call(self, module: object, hook: str, record: PluginRecord, **kwargs: Any) -> None:
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is module:
                if self.trace:
                    print(f"asmr-zoo: plugin {record.name}: calling {hook}", file=sys.stderr)
                try:
                    impl.function(**kwargs)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(f"{hook} raised {type(exc).__name__}: {exc}") from exc

    def _commit(
        self,
        staged: list[Component],
        record: PluginRecord,
        files: list[tuple[Path, str]],
        app: Any,
        staging_app: Any,
    ) -> None:
        seen: set[tuple[str, str]] = set()
        for comp in staged:
            key = (comp.kind, comp.name)
            other = self.components[comp.kind].get(comp.name)
            if other is not None or key in seen:
                owner = other.plugin if other else record.name
                owner_record = self.plugins.get(owner, record)
                owner_dist = owner_record.distribution
                raise PluginError(
                    f"{singular(comp.kind)} '{comp.name}' is registered by both plugin '{owner}' "
                    f"({owner_dist}) and plugin '{record.name}' ({record.distribution}); "
                    f"uninstall one or block it with ASMR_ZOO_DISABLE_PLUGINS={record.name}"
                )
            seen.add(key)
        if staging_app is not None:
            existing = {c.name or c.callback.__name__ for c in app.registered_commands}
            existing |= {g.name for g in app.registered_groups}
            added = [c.name or c.callback.__name__ for c in staging_app.registered_commands]
            added += [g.name for g in staging_app.registered_groups]
            clash = [name for name in added if name in existing]
            if clash:
                raise PluginError(f"command '{clash[0]}' is already provided by asmr-zoo or another plugin")
            app.registered_commands.extend(staging_app.registered_commands)
            app.registered_groups.extend(staging_app.registered_groups)
        for comp in staged:
            self.components[comp.kind][comp.name] = comp
        self.registry_files.extend(files)

    # -- lookup ------------------------------------------------------------------------------------

    def component(self, kind: str, name: str) -> Component:
        """The component of ``kind`` called ``name``; an unknown name lists what is available."""
        table = self.components[kind]
        if name not in table:
            available = ", ".join(sorted(table)) or "none installed"
            hint = difflib.get_close_matches(name, list(table), n=1)
            raise UsageError(
                f"unknown {singular(kind)} '{name}'"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; available: {available}"
            )
        return table[name]

    def load(self, kind: str, name: str) -> Any:
        return self.component(kind, name).load()


_ZOO: Zoo | None = None


def get_zoo(app: Any = None) -> Zoo:
    """The process-wide zoo, loaded from installed entry points on first use."""
    global _ZOO
    if _ZOO is None:
        zoo = Zoo()
        zoo.load_entry_points(app=app)
        _ZOO = zoo
    return _ZOO


def reset_zoo() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin at run time)."""
    global _ZOO
    _ZOO = None

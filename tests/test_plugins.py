"""The plugin manager: broken plugins are reported and skipped, clashes are named, switches work."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from asmr_zoo.errors import PluginError, UsageError
from asmr_zoo.plugins import Zoo
from tests.conftest import make_plugin_dist

IMPORT_ERROR = "import not_a_real_module_xyz\n"
RAISES_IN_HOOK = """
from asmr_zoo import hookimpl

@hookimpl
def register_models(register):
    register("half-registered", "nowhere:Nothing")
    raise RuntimeError("boom inside register_models")
"""
MISSPELLED = """
from asmr_zoo import hookimpl

@hookimpl
def register_modles(register):
    register("typo-model", "nowhere:Nothing")
"""
DUPLICATE = """
from asmr_zoo import hookimpl

@hookimpl
def register_models(register):
    register("wavenet", "nowhere:Nothing", "a second wavenet")
"""
GOOD = """
from asmr_zoo import hookimpl

@hookimpl
def register_samplers(register):
    register("good-sampler", "asmr_zoo.sampling:AncestralSampler", "a fine third-party sampler")
"""

BROKEN = {
    "importfail": IMPORT_ERROR,
    "hookraise": RAISES_IN_HOOK,
    "misspelled": MISSPELLED,
    "duplicate": DUPLICATE,
    "goodplug": GOOD,
}


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for name, source in BROKEN.items():
        make_plugin_dist(site, f"zoo-{name}", f"zoo_{name}", source, entry_name=name)
    return site


def test_broken_plugins_are_reported_and_list_still_works(cli, broken_site: Path) -> None:
    env = {"PYTHONPATH": str(broken_site)}
    listing = cli("list", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    samplers = {row["name"]: row["plugin"] for row in data["samplers"]}
    assert samplers["good-sampler"] == "goodplug"  # other plugins' components still appear
    models = {row["name"] for row in data["models"]}
    assert "half-registered" not in models and "typo-model" not in models  # all-or-nothing
    assert {"mulaw8", "pcm16"} <= {row["name"] for row in data["codecs"]}

    shown = cli("plugins", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    plugins = {row["name"]: row for row in json.loads(shown.stdout)}
    assert plugins["importfail"]["status"] == "failed"
    assert "not_a_real_module_xyz" in plugins["importfail"]["error"]
    assert plugins["importfail"]["distribution"] == "zoo-importfail"
    assert plugins["importfail"]["version"] == "0.1"
    assert plugins["hookraise"]["status"] == "failed"
    assert "boom inside register_models" in plugins["hookraise"]["error"]
    assert plugins["misspelled"]["status"] == "failed"
    assert "register_modles" in plugins["misspelled"]["error"]
    assert "did you mean 'register_models'" in plugins["misspelled"]["error"]
    assert plugins["duplicate"]["status"] == "failed"
    error = plugins["duplicate"]["error"]
    assert "model 'wavenet'" in error and "'wavenet' (asmr-zoo)" in error and "'duplicate' (zoo-duplicate)" in error
    assert {row["name"]: row["plugin"] for row in data["models"]}["wavenet"] == "wavenet"
    assert plugins["goodplug"]["status"] == "loaded"
    assert plugins["goodplug"]["hooks"] == ["register_samplers"]
    assert plugins["core"]["status"] == "loaded"

    table = cli("plugins", env=env)
    assert table.returncode == 0 and "failed" in table.stdout


def test_strict_mode_reraises_as_one_line_error(cli, broken_site: Path) -> None:
    result = cli("list", env={"PYTHONPATH": str(broken_site), "ASMR_ZOO_STRICT_PLUGINS": "1"})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: plugin '")
    assert len(result.stderr.strip().splitlines()) == 1


def test_load_and_disable_switches(cli, broken_site: Path) -> None:
    env = {"PYTHONPATH": str(broken_site), "ASMR_ZOO_LOAD_PLUGINS": "core,codecs,goodplug"}
    plugins = {row["name"]: row for row in json.loads(cli("plugins", "--json", env=env).stdout)}
    assert plugins["goodplug"]["status"] == "loaded"
    assert plugins["importfail"]["status"] == "blocked"
    assert plugins["wavenet"]["status"] == "blocked"

    env = {"PYTHONPATH": str(broken_site), "ASMR_ZOO_DISABLE_PLUGINS": "goodplug,importfail"}
    result = cli("list", "--json", "--kind", "samplers", env=env)
    names = {row["name"] for row in json.loads(result.stdout)["samplers"]}
    assert "good-sampler" not in names and "greedy" in names
    plugins = {row["name"]: row for row in json.loads(cli("plugins", "--json", env=env).stdout)}
    assert plugins["importfail"]["status"] == "blocked"
    assert "ASMR_ZOO_DISABLE_PLUGINS" in plugins["importfail"]["error"]


def test_trace_prints_hook_calls(cli, broken_site: Path) -> None:
    result = cli("list", "--json", env={"PYTHONPATH": str(broken_site), "ASMR_ZOO_TRACE_PLUGINS": "1"})
    assert "plugin goodplug: calling register_samplers" in result.stderr


def _entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **sources: str) -> list[EntryPoint]:
    for module, source in sources.items():
        (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return [EntryPoint(name=m, value=m, group="asmr_zoo") for m in sources]


def test_duplicate_between_two_third_party_plugins_names_both(tmp_path, monkeypatch) -> None:
    eps = _entry_points(tmp_path, monkeypatch, dup_a=GOOD, dup_b=GOOD)
    zoo = Zoo()
    zoo.load_entry_points(eps)
    assert zoo.plugins["dup_a"].status == "loaded"
    assert zoo.plugins["dup_b"].status == "failed"
    error = zoo.plugins["dup_b"].error
    assert "sampler 'good-sampler'" in error and "'dup_a'" in error and "'dup_b'" in error
    assert zoo.component("samplers", "good-sampler").plugin == "dup_a"


def test_strict_mode_in_process(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ASMR_ZOO_STRICT_PLUGINS", "1")
    eps = _entry_points(tmp_path, monkeypatch, strict_raises=RAISES_IN_HOOK)
    with pytest.raises(PluginError, match="boom inside register_models"):
        Zoo().load_entry_points(eps)


def test_bad_hook_signature_is_a_validation_failure(tmp_path, monkeypatch) -> None:
    source = "from asmr_zoo import hookimpl\n\n@hookimpl\ndef register_models(register, extra):\n    pass\n"
    eps = _entry_points(tmp_path, monkeypatch, badsig=source)
    zoo = Zoo()
    zoo.load_entry_points(eps)
    assert zoo.plugins["badsig"].status == "failed"
    assert "extra" in zoo.plugins["badsig"].error


def test_unknown_component_lists_available_and_suggests() -> None:
    zoo = Zoo()
    zoo.load_entry_points()
    with pytest.raises(UsageError, match=r"unknown sampler 'greedyy' \(did you mean 'greedy'\?\); available: "):
        zoo.component("samplers", "greedyy")


def test_lazy_component_that_fails_to_import_is_a_clear_error(tmp_path, monkeypatch) -> None:
    eps = _entry_points(tmp_path, monkeypatch, lazy_bad=DUPLICATE.replace('"wavenet"', '"lazy"'))
    zoo = Zoo()
    zoo.load_entry_points(eps)
    with pytest.raises(PluginError, match="model 'lazy' from plugin 'lazy_bad' could not be loaded"):
        zoo.load("models", "lazy")


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "--json"], ["plugins"], ["plugins", "--json"]])
def test_light_commands_do_not_import_torch(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from asmr_zoo.cli.app import main\n"
        f"sys.argv = ['asmr-zoo', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('NO-TORCH-OK', file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "NO-TORCH-OK" in result.stderr, result.stderr


def test_plugin_that_exits_at_import_is_reported_not_fatal(cli, tmp_path) -> None:
    site = tmp_path / "site"
    make_plugin_dist(site, "exiter", "exiter_plugin", "import sys\nsys.exit(3)\n")
    result = cli("plugins", "--json", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["exiter_plugin"]["status"] == "failed" and "SystemExit: 3" in plugins["exiter_plugin"]["error"]
    assert plugins["core"]["status"] == "loaded"


def test_third_party_plugin_named_core_keeps_the_builtin_row(cli, tmp_path) -> None:
    site = tmp_path / "site"
    make_plugin_dist(site, "impostor", "impostor_plugin", GOOD, entry_name="core")
    result = cli("plugins", "--json", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["core"]["status"] == "loaded" and plugins["core"]["distribution"] == "asmr-zoo"
    assert plugins["core (impostor)"]["status"] == "failed"
    assert "already used by distribution 'asmr-zoo'" in plugins["core (impostor)"]["error"]

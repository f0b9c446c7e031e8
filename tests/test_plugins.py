"""Plugin discovery, registry errors and the controls (docs/reference.md §1)."""

import dataclasses
import json
import textwrap

import pytest

from cmedl_bench import hookimpl
from cmedl_bench.errors import PluginError
from cmedl_bench.plugin import DatasetInfo, SegmenterInfo, TranslatorInfo
from cmedl_bench.registry import get_registry, register_plugin, unregister_plugin
from tests.conftest import cli


class FakeSegmenterPlugin:
    @hookimpl
    def register_segmenters(self, register):
        register("fake-seg", lambda **kw: None, description="fake", info=SegmenterInfo(dims=2))


@pytest.fixture
def fake_plugin():
    register_plugin(FakeSegmenterPlugin(), name="fake", distribution="fake-dist", version="9.9")
    try:
        yield get_registry()
    finally:
        unregister_plugin("fake")


def test_builtins_are_discovered_through_entry_points():
    registry = get_registry(refresh=True)
    assert {"unet"} <= set(registry.names("segmenter"))
    assert {"none"} <= set(registry.names("fusion"))
    assert {"phantom"} <= set(registry.names("dataset"))
    assert {"dsc", "sdsc", "hd95"} <= set(registry.names("metric"))
    unet = registry.get("segmenter", "unet")
    assert unet.distribution == "cmedl-bench" and unet.version
    assert not registry.broken


def test_fake_plugin_registers_and_unregisters(fake_plugin):
    component = fake_plugin.get("segmenter", "fake-seg")
    assert (component.distribution, component.version, component.plugin) == ("fake-dist", "9.9", "fake")


def test_fake_plugin_is_gone_after_fixture():
    assert "fake-seg" not in get_registry().names("segmenter")


def test_unknown_name_lists_known_ones():
    with pytest.raises(PluginError, match=r"unknown segmenter 'nope'; known segmenters: .*unet"):
        get_registry().get("segmenter", "nope")


def test_a_built_in_name_offered_again_stays_the_built_in_and_the_other_is_qualified():
    class Duplicate:
        @hookimpl
        def register_segmenters(self, register):
            register("unet", lambda **kw: None, description="another unet")

    register_plugin(Duplicate(), name="dup", distribution="dup-dist", version="1.0")
    try:
        registry = get_registry()
        assert registry.get("segmenter", "unet").distribution == "cmedl-bench"
        assert registry.get("segmenter", "cmedl-bench:unet").distribution == "cmedl-bench"
        other = registry.get("segmenter", "dup-dist:unet")
        assert other.distribution == "dup-dist" and other.name == "dup-dist:unet" and not registry.broken
        assert any("'unet' is cmedl-bench's; also offered as dup-dist:unet" in note for note in registry.notes)
    finally:
        unregister_plugin("dup")


def _fake_distribution(site, name, module_source, entry_name):
    """A distribution visible to importlib.metadata (the way pytest's own tests fake installed plugins)."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cmedl_bench]\n{entry_name} = {name}\n")


def test_broken_plugin_is_listed_and_cli_survives(tmp_path):
    _fake_distribution(tmp_path, "broken_plugin", "raise ImportError('needs a missing library')\n", "broken")
    result = cli("plugins", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    broken = {b["plugin"]: b for b in listing["broken"]}
    assert "needs a missing library" in broken["broken"]["error"]
    assert broken["broken"]["distribution"] == "broken_plugin"
    assert any(c["name"] == "unet" for c in listing["components"])
    table = cli("plugins", env={"PYTHONPATH": str(tmp_path)})
    assert table.returncode == 0 and "broken" in table.stdout


@pytest.mark.parametrize("source, reason", [
    ("from cmedl_bench import hookimpl\n"
     "class P:\n"
     "    @hookimpl\n"
     "    def register_segmenters(self, registr):\n"
     "        pass\n"
     "plugin = P()\n", "registr"),
    ("from cmedl_bench import hookimpl\n"
     "class P:\n"
     "    @hookimpl\n"
     "    def register_segmenter(self, register):\n"
     "        register('typo-seg', lambda **kw: None, description='never seen')\n"
     "plugin = P()\n", "unknown hook 'register_segmenter'"),
    ("from cmedl_bench import hookimpl\n"
     "class P:\n"
     "    @hookimpl\n"
     "    def register_metrics(self, register):\n"
     "        register('own-metric', lambda: None, description='fine')\n"
     "    @hookimpl\n"
     "    def register_segmenters(self, register):\n"
     "        register('x/../../escaped', lambda **kw: None, description='a path, not a name')\n"
     "plugin = P()\n", "segmenter name 'x/../../escaped' is not a valid identifier"),
    ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
], ids=["misnamed-argument", "misspelled-hook", "traversal-name", "sys-exit-at-import"])
def test_a_faulty_plugin_is_broken_alone_and_every_command_still_works(tmp_path, source, reason):
    """A hook argument misnamed, a hook name misspelled, a name that is a path, ``sys.exit()`` at import: that plugin
    is listed as broken with its reason and contributes nothing; the built-ins and the CLI keep working."""
    _fake_distribution(tmp_path, "faulty_plugin", source.replace("plugin = P()", "plugin = P()"), "clash")
    (tmp_path / "faulty_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[cmedl_bench]\nclash = faulty_plugin:plugin\n")
    env = {"PYTHONPATH": str(tmp_path)}
    result = cli("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    broken = {b["plugin"]: b["error"] for b in listing["broken"]}
    assert reason in broken["clash"] and "\n" not in broken["clash"]
    names = {(c["kind"], c["name"], c["distribution"]) for c in listing["components"]}
    assert ("segmenter", "unet", "cmedl-bench") in names
    assert not any(dist == "faulty_plugin" for _, _, dist in names)  # all or nothing
    assert cli("run", "--help", env=env).returncode == 0
    unknown = cli("run", "--segmenter", "typo-seg", "--preset", "smoke", env=env)
    assert unknown.returncode == 2 and "broken plugins, which may have held it: clash (faulty_plugin)" in unknown.stderr


@pytest.mark.parametrize("kind, fields, message", [
    ("segmenter", {"dims": "2d"}, "segmenter info field 'dims' must be 2 or 3, not '2d'"),
    ("metric", {"higher_is_better": "yes"}, "metric info field 'higher_is_better' must be True or False"),
    ("metric", {"scope": "translation"}, "a translation metric registers with the hook register_translation_metrics"),
    ("segmenter", {"dims": 2}, None),  # the 0.9 mapping form is read into the record
    ("metric", SegmenterInfo(), "metric 'typo': info must be a MetricInfo, not SegmenterInfo"),
])
def test_an_info_field_of_the_wrong_type_or_name_breaks_the_plugin_at_registration(kind, fields, message):
    """Records are checked when they are made (inside the hook, so the plugin is broken); the 0.9
    ``capabilities={...}`` mapping is read into the same record with a DeprecationWarning."""
    def register_with(register, factory):
        if isinstance(fields, dict):
            with pytest.warns(DeprecationWarning, match="capabilities=.* is plugin API 0.9"):
                register("typo", factory, description="typo", capabilities=fields)
        else:
            register("typo", factory, description="typo", info=fields)

    class Typo:
        @hookimpl
        def register_segmenters(self, register):
            if kind == "segmenter":
                register_with(register, lambda **kw: None)

        @hookimpl
        def register_metrics(self, register):
            if kind == "metric":
                register_with(register, lambda: None)

    if message is None:
        register_plugin(Typo(), name="typo", distribution="typo-dist", version="1")
        assert get_registry().get(kind, "typo").info == SegmenterInfo()
        unregister_plugin("typo")
        return

    with pytest.raises(PluginError, match=__import__("re").escape(message)):
        register_plugin(Typo(), name="typo", distribution="typo-dist", version="1")
    assert "typo" not in get_registry().names(kind)


def test_plugin_descriptions_are_printed_as_written():
    class Bracketed:
        @hookimpl
        def register_metrics(self, register):
            register("bracket-metric", lambda: None, description="runs on [ray] or [bold]slurm[/bold]")

    register_plugin(Bracketed(), name="bracketed", distribution="b-dist", version="1")
    try:
        from rich.console import Console

        from cmedl_bench.cli import data as data_cli

        console = Console(record=True, width=300)
        data_cli.stdout, saved = console, data_cli.stdout
        try:
            data_cli.print_plugins(as_json=False)
        finally:
            data_cli.stdout = saved
        assert "runs on [ray] or [bold]slurm[/bold]" in console.export_text()
    finally:
        unregister_plugin("bracketed")


def test_allow_list_and_block_list():
    only_metrics = json.loads(cli("plugins", "--json", env={"CMEDL_BENCH_PLUGINS": "metrics"}).stdout)
    assert {c["kind"] for c in only_metrics["components"]} == {"metric", "translation-metric"}
    blocked = json.loads(cli("plugins", "--json", env={"CMEDL_BENCH_DISABLE": "segmenters"}).stdout)
    assert "segmenter" not in {c["kind"] for c in blocked["components"]}


def test_a_plugin_upgrade_is_a_new_configuration(tmp_path, small_phantom):
    """The same run after the segmenter's distribution moved from 0.1.0 to 0.2.0 is not 'already finished': its
    configuration hash names the plugin versions, so results of other plugin code are never reused or resumed."""
    from cmedl_bench import api
    from cmedl_bench.config import RunConfig

    unet = get_registry().get("segmenter", "unet")

    class OwnUNet:
        @hookimpl
        def register_segmenters(self, register):
            register("own-unet", unet.factory, description="the U-Net, shipped again", info=unet.info)

    records = []
    for version in ("0.1.0", "0.2.0"):
        register_plugin(OwnUNet(), name="own", distribution="own-dist", version=version)
        try:
            records.append(api.run(translator="none", segmenter="own-unet", fusion="none", data=small_phantom,
                                   preset="smoke", results=tmp_path, quiet=True))
        finally:
            unregister_plugin("own")
    assert records[0]["run_id"] != records[1]["run_id"]
    assert records[1]["config"]["plugin_versions"]["segmenter"] == "own-dist 0.2.0"
    assert RunConfig(plugin_versions={"segmenter": "a 1"}).hash() != RunConfig(plugin_versions={"segmenter": "a 2"}).hash()


def _segmenter_plugin(factory, info):
    class Plugin:
        @hookimpl
        def register_segmenters(self, register):
            register("bad-seg", factory, description="a segmenter that breaks one rule", info=info)

    return Plugin()


def _unet(**kwargs):
    from cmedl_bench_plugins.unet import UNet

    return UNet(**kwargs)


def _half_resolution(in_channels, out_channels, width):
    import torch

    class Half(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)

        def forward(self, x, return_features=False):
            return self.conv(x)

    return Half()


def _two_channels(in_channels, out_channels, width):
    return _unet(in_channels=in_channels, out_channels=2, width=width)


def _tuple_output(in_channels, out_channels, width):
    import torch

    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = _unet(in_channels=in_channels, out_channels=out_channels, width=width)

        def forward(self, x, return_features=False):
            return self.inner(x), None

    return Pair()


def _no_features(in_channels, out_channels, width):
    import torch

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1)

        def forward(self, x):
            return self.conv(x)

    return Plain()


@pytest.mark.parametrize("factory, info, rule", [
    (lambda in_channels, out_channels: None, SegmenterInfo(), "must take in_channels, out_channels and width"),
    (_half_resolution, SegmenterInfo(), "must return one tensor of logits shaped (2, 1, 32, 32)"),
    (_two_channels, SegmenterInfo(), "it returned (2, 2, 32, 32)"),
    (_tuple_output, SegmenterInfo(), "it returned tuple"),
    (_no_features, SegmenterInfo(hint_features=True), "forward(x, return_features=True) failed"),
], ids=["factory-without-width", "half-resolution", "two-channel-output", "tuple-output", "features-undeclared"])
def test_a_segmenter_that_breaks_the_contract_is_one_line_before_training(tmp_path, small_phantom, factory,
                                                                          info, rule):
    from cmedl_bench import api

    register_plugin(_segmenter_plugin(factory, info), name="bad", distribution="bad-dist", version="0.1")
    try:
        with pytest.raises(PluginError, match=r"segmenter 'bad-seg' \(bad-dist 0.1, plugin bad\): .*"
                                              + __import__("re").escape(rule)):
            api.run(translator="none", segmenter="bad-seg", fusion="none", data=small_phantom, preset="smoke",
                    results=tmp_path / "results", quiet=True)
    finally:
        unregister_plugin("bad")
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_a_fusion_whose_heads_differ_from_its_registration_is_one_line(tmp_path, small_phantom, cmedl_register):
    """Heads and cohorts are read from the registration before the fusion exists and from the fusion after: a
    plugin that declares them differently is stopped before training, naming both."""
    none = get_registry().get("fusion", "none")

    class Mislabelled:
        @hookimpl
        def register_fusions(self, register):
            register("mislabelled", none.factory, description="CBCT only, heads declared wrongly",
                     info=dataclasses.replace(none.info, heads=("student", "teacher")))

    cmedl_register(Mislabelled(), name="mislabelled", distribution="mis-dist", version="1")
    from cmedl_bench import api

    with pytest.raises(PluginError, match=r"fusion 'mislabelled' \(mis-dist 1[^)]*\): its heads \('student',\) differ "
                                          r"from its registered FusionInfo \('student', 'teacher'\)"):
        api.run(translator="none", fusion="mislabelled", data=small_phantom, preset="smoke", results=tmp_path,
                quiet=True)


def test_a_fusion_factory_that_returns_no_fusion_is_one_line(tmp_path, small_phantom, cmedl_register):
    none = get_registry().get("fusion", "none")

    class Wrong:
        @hookimpl
        def register_fusions(self, register):
            register("wrong", lambda spec: {"not": "a fusion"}, description="returns a dict", info=none.info)

    cmedl_register(Wrong(), name="wrong", distribution="wrong-dist", version="1")
    from cmedl_bench import api

    with pytest.raises(PluginError, match=r"fusion 'wrong' \(wrong-dist 1[^)]*\): its factory returned dict, not a "):
        api.run(translator="none", fusion="wrong", data=small_phantom, preset="smoke", results=tmp_path, quiet=True)


def _scaled_inversion(spec):
    from cmedl_bench.plugin import Translator

    class ScaledInversion(Translator):
        def to_mri(self, cbct):
            return -cbct * float(self.spec.options.get("scale", 1.0))

    return ScaledInversion(spec)


def test_component_options_are_declared_typed_and_enter_the_hash(tmp_path, small_phantom, cmedl_register):
    """``--option KEY=VALUE`` reaches the component that declares KEY, converted to its default's type; a typo is
    an error listing the declared options; a set option is another configuration with another result."""
    from cmedl_bench import api

    class WithOption:
        @hookimpl
        def register_translators(self, register):
            register("scaled", _scaled_inversion, description="inversion with a declared scale",
                     info=TranslatorInfo(options={"scale": 1.0, "clip": False}))

    cmedl_register(WithOption(), name="opt", distribution="opt-dist", version="1")
    kwargs = dict(translator="scaled", data=small_phantom, preset="smoke", results=tmp_path, quiet=True)
    plain = api.translate(**kwargs)
    tuned = api.translate(**kwargs, options={"scale": "0.5", "clip": "yes"})
    assert {k: tuned["config"]["options"][k] for k in ("scale", "clip")} == {"scale": 0.5, "clip": True}
    assert tuned["run_id"] != plain["run_id"]
    assert tuned["summary"]["test"]["pmri"]["kl"]["mean"] != plain["summary"]["test"]["pmri"]["kl"]["mean"]
    with pytest.raises(PluginError, match=r"--option sclae: no selected component declares it; options: "
                                          r"clip \(scaled, default False\), scale \(scaled, default 1.0\)"):
        api.translate(**kwargs, options={"sclae": "2"})
    with pytest.raises(PluginError, match=r"--option clip='maybe': expected a bool"):
        api.translate(**kwargs, options={"clip": "maybe"})


def test_cmedl_loss_weight_from_the_command_line(tmp_path):
    result = cli("run", "--option", "lambda_seg=not-a-number", "--preset", "smoke", "--results", str(tmp_path))
    assert result.returncode == 2 and "expected a float like the default 5.0" in result.stderr


def _serve_copy(root, seed=0, size="full", progress=None, source=""):
    import shutil

    if not source:
        from cmedl_bench.plugin import DatasetError

        raise DatasetError("dataset 'served' needs --option source=FOLDER")
    shutil.copytree(source, root)
    return root


def test_a_dataset_plugin_takes_options_that_key_its_cache_and_name_its_rows(tmp_path, small_phantom,
                                                                             cmedl_register):
    """A dataset that serves a folder given as an option: each source is its own cached dataset, run.json names
    the plugin and its options, and the report tells the two apart; an undeclared option and an option next to
    ``--data`` are errors before any work."""
    import shutil

    from cmedl_bench import api
    from cmedl_bench.errors import CmedlError
    from cmedl_bench.results.collect import collect
    from cmedl_bench.results.leaderboard import build_leaderboard

    class Served:
        @hookimpl
        def register_datasets(self, register):
            register("served", _serve_copy, description="a copy of a folder",
                     info=DatasetInfo(version=1, options={"source": ""}))

    cmedl_register(Served(), name="served", distribution="served-dist", version="1")
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(small_phantom, first)
    shutil.copytree(small_phantom, second)
    kwargs = dict(translator="none", fusion="none", dataset="served", preset="smoke", results=tmp_path / "results",
                  quiet=True, overrides={"max_epochs": 1})
    records = [api.run(**kwargs, options={"source": str(source)}) for source in (first, second)]
    assert records[0]["run_id"] != records[1]["run_id"]
    assert records[0]["dataset"]["path"] != records[1]["dataset"]["path"]  # two cached datasets, one per source
    assert [r["dataset"]["options"] for r in records] == [{"source": str(first)}, {"source": str(second)}]
    assert records[0]["dataset"]["plugin"] == "served"
    labels = sorted(row.label for row in build_leaderboard(collect([tmp_path / "results"])).rows)
    assert len(labels) == 2 and f"source={first}" in labels[0] and f"source={second}" in labels[1]
    with pytest.raises(PluginError, match=r"--option sorce: no selected component declares it; options: source"):
        api.run(**kwargs, options={"sorce": str(first)})
    with pytest.raises(CmedlError, match="--option source configures dataset 'served', which --data replaces"):
        api.run(**{**kwargs, "data": small_phantom}, options={"source": str(first)})
    with pytest.raises(CmedlError, match="needs --option source=FOLDER"):
        api.synth(tmp_path / "synth", dataset="served", quiet=True)
    assert (api.synth(tmp_path / "synth", dataset="served", quiet=True, options={"source": str(first)})
            / "dataset.json").is_file()


_OFFER_UNET = """
from cmedl_bench import hookimpl
class P:
    @hookimpl
    def register_segmenters(self, register):
        register('unet', lambda **kw: None, description='an outsider unet')
        register('shared-seg', lambda **kw: None, description='offered by two outsiders')
plugin = P()
"""


def _resolve(env, *names):
    """The distribution each name resolves to in a fresh process with the given PYTHONPATH (or the error)."""
    import subprocess
    import sys

    code = ("import json, sys\nfrom cmedl_bench.registry import get_registry\nout = {}\nfor n in sys.argv[1:]:\n"
            "    try:\n        out[n] = get_registry().get('segmenter', n).distribution\n"
            "    except Exception as exc:\n        out[n] = str(exc)\nprint(json.dumps(out))\n")
    import os

    result = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True,
                            env={**os.environ, **env}, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("order", ["taker_a first", "taker_b first"])
def test_no_distribution_takes_a_name_by_discovery_order(tmp_path, order):
    """Two installed distributions both offer ``unet`` (a built-in name) and ``shared-seg``, discovered in either
    order: ``unet`` stays the built-in's, ``shared-seg`` has no plain owner and names both qualified forms, every
    component is reachable qualified, and nothing is broken."""
    sites = []
    for name in ("taker_a", "taker_b"):
        site = tmp_path / name
        site.mkdir()
        _fake_distribution(site, name, _OFFER_UNET, name)
        (site / f"{name}-1.0.dist-info" / "entry_points.txt").write_text(f"[cmedl_bench]\n{name} = {name}:plugin\n")
        sites.append(str(site))
    env = {"PYTHONPATH": ":".join(sites if order == "taker_a first" else sites[::-1])}
    resolved = _resolve(env, "unet", "taker_a:unet", "taker_b:unet", "shared-seg", "taker_b:shared-seg")
    assert resolved["unet"] == "cmedl-bench"
    assert resolved["taker_a:unet"] == "taker_a" and resolved["taker_b:unet"] == "taker_b"
    assert "offered by 2 distributions; choose one: taker_a:shared-seg, taker_b:shared-seg" in resolved["shared-seg"]
    assert resolved["taker_b:shared-seg"] == "taker_b"
    listing = json.loads(cli("plugins", "--json", env=env).stdout)
    assert not listing["broken"] and any("no plain name" in note for note in listing["notes"])
    names = {(c["name"], c["distribution"]) for c in listing["components"] if c["kind"] == "segmenter"}
    assert {("unet", "cmedl-bench"), ("taker_a:unet", "taker_a"), ("taker_b:unet", "taker_b")} <= names


def test_a_09_capabilities_key_unknown_to_1x_is_ignored_with_a_visible_note(tmp_path):
    source = ("from cmedl_bench import hookimpl\nclass P:\n    @hookimpl\n"
              "    def register_segmenters(self, register):\n"
              "        register('old-seg', lambda **kw: None, description='0.9 style',\n"
              "                 capabilities={'dims': 2, 'channels': 1})\nplugin = P()\n")
    _fake_distribution(tmp_path, "old_plugin", source, "old")
    (tmp_path / "old_plugin-1.0.dist-info" / "entry_points.txt").write_text("[cmedl_bench]\nold = old_plugin:plugin\n")
    result = cli("plugins", "--json", env={"PYTHONPATH": str(tmp_path)})
    listing = json.loads(result.stdout)
    assert not listing["broken"] and any(c["name"] == "old-seg" for c in listing["components"])
    assert any("'channels' ignored" in note and "old_plugin" in note for note in listing["notes"])
    table = cli("plugins", env={"PYTHONPATH": str(tmp_path), "COLUMNS": "200"})
    assert "note:" in table.stdout and "capabilities=" in table.stdout


def test_the_kit_cleans_up_after_a_failed_registration():
    class First:
        @hookimpl
        def register_segmenters(self, register):
            register("kit-seg", lambda **kw: None, description="first")

    register_plugin(First(), name="kit-plugin")
    try:
        with pytest.raises(PluginError, match="kit-plugin"):
            register_plugin(First(), name="kit-plugin")  # the same plugin name twice: pluggy refuses it
    finally:
        unregister_plugin("kit-plugin")
    assert "kit-seg" not in get_registry().names("segmenter") and not get_registry().broken


@pytest.mark.parametrize("declared, broken", [(">=1,<2", False), (">=2", True), ("1.x", True)])
def test_a_plugin_outside_its_declared_api_range_is_broken_with_both_versions(tmp_path, declared, broken):
    from cmedl_bench.hookspecs import PLUGIN_API_VERSION

    source = (f"from cmedl_bench import hookimpl\nCMEDL_BENCH_API = {declared!r}\n"
              "@hookimpl\ndef register_segmenters(register):\n"
              "    register('ranged-seg', lambda **kw: None, description='declares its API range')\n")
    _fake_distribution(tmp_path, "ranged_plugin", source, "ranged")
    listing = json.loads(cli("plugins", "--json", env={"PYTHONPATH": str(tmp_path)}).stdout)
    errors = {b["plugin"]: b["error"] for b in listing["broken"]}
    assert ("ranged" in errors) == broken
    assert any(c["name"] == "ranged-seg" for c in listing["components"]) != broken
    if declared == ">=2":
        assert f"supports plugin API >=2, and this cmedl-bench has plugin API {PLUGIN_API_VERSION}" in errors["ranged"]
    if declared == "1.x":
        assert "is not a version range" in errors["ranged"]


def test_a_translator_with_parameters_outside_modules_and_a_lazy_metric_that_fails_stop_before_any_data(
        tmp_path, monkeypatch):
    """A translator whose generator is not in ``modules()`` would never train (its pseudo-MRI scores like raw CBCT);
    a metric whose factory fails would fail the run after training. Both are one line before any data are read."""
    import torch

    from cmedl_bench import api
    from cmedl_bench.plugin import Translator, TranslatorInfo

    class Hidden(Translator):
        def __init__(self, spec):
            super().__init__(spec)
            self.generator = torch.nn.Conv2d(1, 1, 3, padding=1)

        def to_mri(self, cbct):
            return self.generator(cbct)

    class Plugin:
        @hookimpl
        def register_translators(self, register):
            register("hidden-gen", Hidden, description="forgets modules()", info=TranslatorInfo())

        @hookimpl
        def register_metrics(self, register):
            def factory():
                raise ImportError("needs a missing library")
            register("lazy-broken", factory, description="fails when built")

    monkeypatch.setenv("CMEDL_BENCH_CACHE", str(tmp_path / "never-written"))
    register_plugin(Plugin(), name="probe-plugin")
    try:
        with pytest.raises(PluginError, match=r"translator 'hidden-gen' .*generator hold\(s\) parameters that "
                                              r"require a gradient but are not in modules\(\)"):
            api.run(translator="hidden-gen", fusion="hint", preset="smoke", results=tmp_path / "r", quiet=True)
        with pytest.raises(PluginError, match="metric 'lazy-broken' .*its factory failed: ImportError"):
            api.run(translator="none", fusion="none", preset="smoke", results=tmp_path / "r", quiet=True)
    finally:
        unregister_plugin("probe-plugin")
    assert not (tmp_path / "never-written").exists() and not (tmp_path / "r").exists()


FUSION_DIST = """
from cmedl_bench.plugin import Fusion, FusionInfo, adam, dice_loss, hookimpl


class Plain(Fusion):
    heads = ("student",)

    def __init__(self, spec):
        super().__init__(spec)
        self.net = spec.segmenter.factory(in_channels=1, out_channels=1, width=spec.preset.width)
        self.optimizer = adam(self.net.parameters(), spec.preset.lr_segmenter, self.device)

    def modules(self):
        return {"net": self.net}

    def optimizers(self):
        return {"net": self.optimizer}

    def head_network(self, head):
        return self.net

    def train_step(self, batch):
        loss = dice_loss(self.net(batch["cbct"]), batch["cbct_label"])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"seg": loss.detach()}

    def predict_logits(self, head, cbct):
        return self.net(cbct)


class ListLosses(Plain):
    def train_step(self, batch):
        return [super().train_step(batch)["seg"]]


@hookimpl
def register_fusions(register):
    register("plain", Plain, description="CBCT only, written from the docs", info=FusionInfo())
    register("list-losses", ListLosses, description="returns its losses as a list", info=FusionInfo())
"""


def test_a_fusion_only_distribution_is_checked_and_a_broken_fusion_stops_before_any_data(tmp_path):
    _fake_distribution(tmp_path, "fusion_dist", FUSION_DIST, "fusion_dist")
    env = {"PYTHONPATH": str(tmp_path), "CMEDL_BENCH_CACHE": str(tmp_path / "never-written")}
    checked = cli("plugins", "check", "fusion_dist", "--json", env=env)
    assert checked.returncode == 1, checked.stderr
    findings = {f["name"]: f for f in json.loads(checked.stdout)}
    assert findings["plain"]["passed"] and "with unet" in findings["plain"]["rule"]
    assert not findings["list-losses"]["passed"]
    assert "train_step must return a dict of loss name -> value, not list" in findings["list-losses"]["detail"]
    run = cli("run", "--translator", "none", "--fusion", "list-losses", "--preset", "smoke", "--results",
              str(tmp_path / "r"), env=env)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1 and "fusion 'list-losses' (fusion_dist 1.0" in lines[0]
    assert not (tmp_path / "never-written").exists() and not (tmp_path / "r").exists()


def test_a_translator_option_always_reaches_the_translator(tmp_path, cmedl_register):
    """A fusion that builds its translator without the run's options would hash and record ``--option
    gan_mode=lsgan`` and train with ``log``: the probe stops it before any data; ``build_translator()`` forwards."""
    import torch

    from cmedl_bench import api
    from cmedl_bench.config import PRESETS
    from cmedl_bench.plugin import build_translator
    from cmedl_bench.stages.building import build_fusion
    from cmedl_bench_plugins.cmedl_hint import CMEDL

    class Forgetful(CMEDL):
        def build_translator(self):
            self.translator = build_translator(self.spec.translator, self.spec.preset, self.device)
            return self.translator

    hint = get_registry().get("fusion", "hint")

    class Plugin:
        @hookimpl
        def register_fusions(self, register):
            register("forgetful", Forgetful, description="drops the translator's options", info=hint.info)

    cmedl_register(Plugin(), name="forgetful", distribution="forget-dist", version="1")
    with pytest.raises(PluginError, match=r"fusion 'forgetful' .*built without the run's option\(s\) gan_mode"):
        api.run(translator="cycle", fusion="forgetful", preset="smoke", results=tmp_path / "r", quiet=True,
                options={"gan_mode": "lsgan"})
    assert not (tmp_path / "r").exists()
    built = build_fusion("hint", "unet", "cycle", PRESETS["smoke"], torch.device("cpu"), {"gan_mode": "lsgan"})
    assert built.translator.spec.options["gan_mode"] == "lsgan" and built.translator.gan_mode == "lsgan"

"""Loading packs: folders, text, plugins, and the errors of packs that do not check."""

import shutil

import pytest

import leadscore
from conftest import ROOT, run_cli

AS_OF = "2026-03-01T00:00:00Z"


def test_load_names_the_pack_like_the_cli():
    pack = leadscore.Pack.load("rules/b2b-saas")
    check = run_cli("check", "rules/b2b-saas")
    assert check.returncode == 0
    assert check.stdout.decode().startswith(f"{pack.name}@{pack.version}: ok")
    assert [name for name, _ in pack.sources] == ["b2b-saas/main.rules", "b2b-saas/video.rules"]
    assert pack.plugin_sources == []


def test_from_source_scores():
    pack = leadscore.Pack.from_source("demo", 'threshold 10\nrule "VP": title ~ VP => +10')
    result = pack.score({"id": 1, "title": "VP Sales"}, AS_OF)
    assert (result["score"], result["mql"], result["pack"]["name"]) == (10, True, "demo")


def test_a_pack_that_does_not_check_raises_with_every_error(tmp_path):
    shutil.copy(ROOT / "tests/fixtures/errors/let-cycle.rules", tmp_path / "a.rules")
    shutil.copy(ROOT / "tests/fixtures/errors/invalid-regex.rules", tmp_path / "b.rules")
    with pytest.raises(leadscore.PackError) as raised:
        leadscore.Pack.load(tmp_path)
    check = run_cli("check", str(tmp_path))
    assert check.returncode == 2
    assert str(raised.value) == check.stderr.decode(), "the message is what `leadscore check` prints"
    errors = raised.value.errors
    assert len(errors) >= 2
    assert {file for file, _, _, _ in errors} == {f"{tmp_path.name}/a.rules", f"{tmp_path.name}/b.rules"}
    for file, line, column, message in errors:
        assert line >= 1 and column >= 1 and message
        assert f"--> {file}:{line}:{column}" in str(raised.value)


def test_from_source_errors_have_locations():
    with pytest.raises(leadscore.PackError) as raised:
        leadscore.Pack.from_source("bad", 'cap fit at 40\nrule "x": title ~ VP => +5 fitt\nrule "y": => +1\n')
    errors = raised.value.errors
    assert errors[0] == ("bad.rules", 2, 28, "unknown dimension `fitt`")
    assert len(errors) == 2 and errors[1][:2] == ("bad.rules", 3)
    assert "help: did you mean `fit`?" in str(raised.value)
    first = raised.value.details[0]
    assert (first["layer"], first["code"], first["help"]) == ("check", "unknown_dimension", "did you mean `fit`?")
    assert (first["file"], first["line"], first["column"], first["message"]) == errors[0]


def test_a_lead_that_cannot_be_scored_says_its_kind():
    pack = leadscore.Pack.from_source("demo", "visited /pricing => +5")
    with pytest.raises(leadscore.ScoreError, match="events\\[0\\]") as raised:
        pack.score({"events": [7]}, as_of="2026-01-01T00:00:00Z")
    assert raised.value.code == "bad_event"
    with pytest.raises(leadscore.ScoreError) as raised:
        pack.score({"x": {1, 2}}, as_of="2026-01-01T00:00:00Z")
    assert raised.value.code == "not_json"


def test_a_pack_error_is_a_value_error():
    with pytest.raises(ValueError):
        leadscore.Pack.from_source("bad", "threshold")


def test_a_missing_folder_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="cannot read"):
        leadscore.Pack.load(tmp_path / "nowhere")


def test_an_empty_folder_is_a_pack_error(tmp_path):
    with pytest.raises(leadscore.PackError, match="holds no \\*.rules files") as raised:
        leadscore.Pack.load(tmp_path)
    assert raised.value.errors == [] and raised.value.details == []


def test_plugins_come_from_the_search_path():
    pack = leadscore.Pack.load("rules/agency", plugins=["plugins"])
    assert sorted(name for name, _ in pack.plugin_sources) == ["email.rhai", "seniority.rhai"]
    with pytest.raises(leadscore.PackError, match="plugin `email`"):
        leadscore.Pack.load("rules/agency", plugins=[])


def test_a_plugin_that_does_not_compile_rejects_the_pack():
    with pytest.raises(leadscore.PackError) as raised:
        leadscore.Pack.load("tests/fixtures/plugins/broken")
    check = run_cli("check", "tests/fixtures/plugins/broken")
    assert str(raised.value) == check.stderr.decode()
    assert raised.value.errors[0][0].endswith("broken.rhai")


def test_the_type_stubs_name_what_the_native_module_has():
    import ast
    import inspect

    from leadscore import _native

    stubs = ast.parse((ROOT / "python/leadscore/_native.pyi").read_text())
    top = {node.name for node in stubs.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    assert top == {name for name in dir(_native) if not name.startswith("_")}
    (pack,) = [node for node in stubs.body if isinstance(node, ast.ClassDef) and node.name == "Pack"]
    stubbed = {node.name: node for node in pack.body if isinstance(node, ast.FunctionDef)}
    real = {name for name in dir(_native.Pack) if not name.startswith("_")}
    assert set(stubbed) == real
    for name, node in stubbed.items():
        member = getattr(_native.Pack, name)
        if callable(member) and getattr(member, "__text_signature__", None):
            params = [p for p in inspect.signature(member).parameters if p not in ("self", "$self")]
            assert [a.arg for a in node.args.args if a.arg != "self"] == params, name
    # The module's functions too, keyword-only parameters included: a keyword the native
    # function takes and the stub lacks is one a type checker would refuse.
    for node in stubs.body:
        member = getattr(_native, node.name) if isinstance(node, ast.FunctionDef) else None
        if callable(member) and getattr(member, "__text_signature__", None):
            params = list(inspect.signature(member).parameters)
            stubbed_params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            assert stubbed_params == params, node.name
    assert (ROOT / "python/leadscore/py.typed").exists(), "the package says it has types (PEP 561)"

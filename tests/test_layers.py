"""Layers point one way: shopbench/, the bottom, imports nothing from the layers above it."""
import ast

from shopbench import spec

ROOT = spec.ROOT
ABOVE = {"models", "decoding", "routing", "prompts", "training", "weights", "submission", "benchmarks",
         "local_evaluation", "run"}


def upward_imports(source: str) -> list[str]:
    """The modules above shopbench/ that `source` imports, at any depth (a function's lazy
    import counts too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in ABOVE]
    return found


def test_shopbench_imports_nothing_from_the_layers_above():
    upward = {path.relative_to(ROOT).as_posix(): upward_imports(path.read_text(encoding="utf-8"))
              for path in sorted((ROOT / "shopbench").rglob("*.py"))}
    assert {path: names for path, names in upward.items() if names} == {}


def test_the_rule_sees_every_form_of_import():
    assert upward_imports("import models.protocol") == ["models.protocol"]
    assert upward_imports("from decoding.config import DEFAULT") == ["decoding.config"]
    assert upward_imports("def f():\n    from routing import classifier\n") == ["routing"]
    assert upward_imports("from shopbench import spec\nfrom . import data\nimport modelsx") == []


def test_the_base_class_stub_is_told_apart_without_importing_it():
    from models.base_model import ShopBenchBaseModel
    from models.dummy_model import DummyModel
    from shopbench.runner import _base_stub

    class Inherits(ShopBenchBaseModel):
        pass

    class Overrides(ShopBenchBaseModel):
        def batch_predict(self, batch, is_multiple_choice):
            return []

    assert _base_stub(ShopBenchBaseModel) and _base_stub(Inherits)
    assert not _base_stub(Overrides) and not _base_stub(DummyModel)

"""The user module contract: signatures with and without context, combinations, finding and importing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from smtoolkit.errors import EntryPointError
from smtoolkit.serve.handlers import bind, find_script, handlers_from, import_script, load_user_handlers


def model_fn(model_dir):
    return "model"


@pytest.mark.parametrize(
    ("name", "func", "mode"),
    [
        ("predict_fn", lambda data, model: None, "none"),
        ("predict_fn", lambda data, model, context: None, "positional"),
        ("predict_fn", lambda data, model, context=None: None, "positional"),
        ("predict_fn", lambda data, model, extra=None: None, "none"),
        ("predict_fn", lambda data, model, *, context: None, "keyword"),
        ("predict_fn", lambda *args: None, "none"),
        ("predict_fn", lambda data, *rest, **kw: None, "none"),
        ("transform_fn", lambda model, body, content_type, accept, ctx: None, "positional"),
        ("execution_parameters_fn", lambda: None, "none"),
        ("execution_parameters_fn", lambda context: None, "positional"),
        ("model_fn", print, "none"),
    ],
)
def test_bind_detects_the_context_argument(name, func, mode):
    assert bind(name, func, "inference.py").context_mode == mode


def test_a_bound_function_gets_the_context_only_when_it_takes_one():
    seen = []
    bind("input_fn", lambda data, content_type: seen.append((data, content_type)), "s")("d", "t", context="ctx")
    bind("input_fn", lambda data, content_type, ctx: seen.append(ctx), "s")("d", "t", context="ctx")
    bind("input_fn", lambda data, content_type, *, context: seen.append(context), "s")("d", "t", context="c2")
    assert seen == [("d", "t"), "ctx", "c2"]


@pytest.mark.parametrize(
    "func",
    [
        lambda data: None,
        lambda data, model, context, extra: None,
        lambda data, model, *, flag: None,
        "not callable",
    ],
)
def test_bind_refuses_what_does_not_fit(func):
    with pytest.raises(EntryPointError, match=r"inference.py: .*predict_fn"):
        bind("predict_fn", func, "inference.py")


def test_handlers_from_a_module_with_the_three_functions():
    module = SimpleNamespace(
        model_fn=model_fn,
        input_fn=lambda body, content_type: body,
        predict_fn=lambda data, model, context: data,
        output_fn=lambda prediction, accept: prediction,
        helper=lambda: None,
    )
    handlers = handlers_from(module, "inference.py")
    assert handlers.model_fn.func is model_fn
    assert handlers.predict_fn is not None and handlers.predict_fn.context_mode == "positional"
    assert handlers.transform_fn is None and handlers.execution_parameters_fn is None


def test_model_fn_is_required():
    with pytest.raises(EntryPointError, match="inference.py defines no model_fn"):
        handlers_from(SimpleNamespace(predict_fn=lambda data, model: data), "inference.py")


def test_transform_fn_excludes_the_three():
    module = SimpleNamespace(
        model_fn=model_fn,
        transform_fn=lambda model, body, content_type, accept: body,
        output_fn=lambda prediction, accept: prediction,
    )
    with pytest.raises(EntryPointError, match="defines transform_fn and output_fn"):
        handlers_from(module, "inference.py")


def test_find_script_searches_in_order(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    second.mkdir()
    (second / "inference.py").write_text("")
    assert find_script("inference.py", [first, second]) == second / "inference.py"
    (second / "pkg").mkdir()
    (second / "pkg" / "serve.py").write_text("")
    assert find_script("pkg.serve", [first, second]) == second / "pkg" / "serve.py"
    with pytest.raises(EntryPointError, match=r"missing.py not found in .*/a, .*/b"):
        find_script("missing.py", [first, second])
    with pytest.raises(EntryPointError, match=r"\(did you mean inference.py\?\)"):
        find_script("inferense.py", [first, second])
    with pytest.raises(EntryPointError, match="inside the code directory"):
        find_script("../inference.py", [first])


def test_import_script_can_import_its_neighbours(write_script):
    write_script("VALUE = 41\n", name="helpers.py")
    script = write_script(
        """
        from helpers import VALUE

        def model_fn(model_dir):
            return VALUE + 1
        """
    )
    handlers = load_user_handlers("inference.py", [script.parent])
    assert handlers.model_fn("dir") == 42
    assert handlers.source == str(script)


def test_import_failure_names_the_script_and_the_error(write_script):
    script = write_script("raise RuntimeError('boom')\n", name="broken.py")
    with pytest.raises(EntryPointError, match=r"importing .*broken.py failed: RuntimeError: boom") as caught:
        import_script(script)
    assert isinstance(caught.value.__cause__, RuntimeError)

"""Every parameter of the public API (``mixeff.__all__``) carries a type annotation."""

import inspect

import mixeff

NOT_YET: set[str] = set()


def _public_callables():
    """``(qualified name, function)`` of every public function, and of every public class's methods."""
    for name in mixeff.__all__:
        if name in NOT_YET:
            continue
        obj = getattr(mixeff, name)
        if inspect.isclass(obj):
            if issubclass(obj, Warning):
                continue
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if inspect.isfunction(function):
                    yield f"{name}.{attr}", function
        elif inspect.isfunction(obj):
            yield name, obj


def _unannotated(function) -> list[str]:
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.name not in ("self", "cls")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.annotation is inspect.Parameter.empty
    ]


def test_every_public_parameter_is_annotated():
    missing = {name: bad for name, function in _public_callables() if (bad := _unannotated(function))}
    assert not missing, f"parameters without a type annotation: {missing}"


def test_the_walk_sees_functions_and_methods():
    names = dict(_public_callables())
    assert {"fit", "datagrid", "plot_draws", "MixedFit.__init__", "MixedFit.spec"} <= set(names)
    assert NOT_YET <= set(mixeff.__all__)


def test_the_check_finds_a_missing_annotation():
    def f(a: int, b, *args, c=1, **kwargs) -> None:
        pass

    assert _unannotated(f) == ["b", "c"]

"""Progress bars: counted in rows, quiet in logs, one global switch, closed on interrupt."""

import io
import re
import sys
import types
import warnings

import numpy as np
import pytest
import tqdm.std

import mixeff
from mixeff.config import DEFAULTS, get_options, set_options
from mixeff.engine import passes
from mixeff.model.examples import toy_spec


@pytest.fixture(autouse=True)
def default_options():
    """Every test starts from, and leaves, the default options."""
    previous = set_options(**DEFAULTS)
    try:
        yield
    finally:
        set_options(**previous)


@pytest.fixture
def spec():
    return toy_spec()


@pytest.fixture
def grid(spec):
    return spec.data.iloc[:300]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def _lines(text: str) -> list[str]:
    """What a log shows: every update a bar wrote (tqdm redraws with ``\\r``)."""
    return [line for line in re.split(r"[\r\n]", text) if line.strip()]


def _mixeff_bars() -> list:
    return [bar for bar in list(tqdm.std.tqdm._instances) if bar.desc.startswith("mixeff")]


def test_a_bar_in_a_log_writes_a_few_lines_in_rows(spec, grid, capsys):
    result = mixeff.predictions(spec, grid, chunk_rows=1, progress=True)  # 300 chunks
    err = capsys.readouterr().err
    lines = _lines(err)
    assert 1 <= len(lines) <= 3, lines
    assert "row" in err and "chunk" not in err
    assert "300/300" in lines[-1] and err.endswith("\n")  # the final count stays in the log, on its own line
    assert result.draws.shape == (300, spec.n_samples)


def test_automatic_bars_stay_out_of_logs(spec, grid, capsys, monkeypatch):
    monkeypatch.setattr(passes, "PROGRESS_MIN_CELLS", 0)  # every call counts as large work
    mixeff.predictions(spec, grid, chunk_rows=1)
    assert capsys.readouterr().err == ""


def test_the_global_switch(spec, grid, monkeypatch):
    monkeypatch.setattr(passes, "PROGRESS_MIN_CELLS", 0)  # every call counts as large work
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    def shown(**kwargs) -> bool:
        terminal.seek(0)
        terminal.truncate()
        mixeff.predictions(spec, grid, chunk_rows=50, **kwargs)
        return "row" in terminal.getvalue()

    assert get_options()["progress"] is None
    assert shown()  # automatic: large work in a terminal shows a bar
    set_options(progress=False)
    assert not shown()
    assert shown(progress=True)  # a call's own argument wins
    set_options(progress=True)
    monkeypatch.setattr(passes, "PROGRESS_MIN_CELLS", 1e30)  # small work
    assert shown()
    assert not shown(progress=False)


def test_the_global_default_reaches_a_log(spec, grid, capsys):
    set_options(progress=True)
    mixeff.predictions(spec, grid, chunk_rows=1)
    assert "300/300" in capsys.readouterr().err


def test_set_options_checks_and_returns_what_it_replaced():
    assert set_options(progress=False) == {"progress": None}
    assert get_options() == {"progress": False, "memory_limit": None, "n_jobs": None, "compiled": True}
    with pytest.raises(ValueError, match="unknown option"):
        set_options(colour=True)
    with pytest.raises(ValueError, match="progress="):
        set_options(progress="yes")
    assert get_options() == {"progress": False, "memory_limit": None, "n_jobs": None, "compiled": True}
    options = get_options()
    options["progress"] = True  # a copy
    assert get_options()["progress"] is False


def test_no_tqdm_warning_without_ipywidgets(spec, grid, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` raises ImportError
    assert passes._bar_class() is tqdm.std.tqdm
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mixeff.predictions(spec, grid, chunk_rows=10, progress=True)
    assert "300/300" in capsys.readouterr().err


def test_notebook_bars_with_ipywidgets(monkeypatch):
    import tqdm.auto

    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
    assert passes._bar_class() is tqdm.auto.tqdm


# toy_spec's made-up draws: R-hat of a few of these rows is just above 1.01 by chance
@pytest.mark.filterwarnings("ignore:the predictions may not be trustworthy:mixeff.ConvergenceWarning")
def test_an_interrupted_run_leaves_nothing_behind(spec, grid, capsys, monkeypatch):
    kwargs = dict(chunk_rows=10, progress=True, type="prediction", seed=3)
    want = mixeff.predictions(spec, grid, **kwargs).draws
    capsys.readouterr()

    calls = []
    per_row = passes.ArmValue.per_row

    def interrupted(self, chunk):
        calls.append(chunk.rows)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return per_row(self, chunk)

    monkeypatch.setattr(passes.ArmValue, "per_row", interrupted)
    with pytest.raises(KeyboardInterrupt) as excinfo:
        mixeff.predictions(spec, grid, **kwargs)
    assert len(calls) == 4
    # the bar was closed even though the traceback (holding the loop's frames) is alive
    assert excinfo.traceback and not _mixeff_bars()
    err = capsys.readouterr().err
    assert err.endswith("\n") and re.search(r"\b30(\.0)?/300\b", err)  # three chunks done, left on its line
    monkeypatch.undo()

    again = mixeff.predictions(spec, grid, **kwargs)
    np.testing.assert_array_equal(again.draws, want)
    assert get_options() == DEFAULTS


def test_row_chunks_cover_every_row_once():
    chunks = list(passes.row_chunks(7, 3, work=1.0, progress=True))
    assert [(c.start, c.stop) for c in chunks] == [(0, 3), (3, 6), (6, 7)]
    assert not _mixeff_bars()

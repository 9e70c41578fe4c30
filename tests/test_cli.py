"""What a newcomer meets first: `--help` and `xnorflow models` answer without building any model, and every
option's help names its default."""
import argparse
import sys
from pathlib import Path

import pytest

from xnorflow.cli import HelpFormatter, parser

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from cli_startup import COMMANDS, cpu_seconds  # noqa: E402

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

CPU_BOUND = 10.0  # CPU seconds: far above a lazy start (well under 1 s), far below building every model (about 60 s)


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_first_commands_build_no_model(args: list[str]) -> None:
    assert cpu_seconds(args) < CPU_BOUND


@pytest.mark.parametrize("name", _subcommands())
def test_every_option_names_its_default(name: str) -> None:
    command = _subcommands()[name]
    formatter = HelpFormatter(command.prog)
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = formatter._get_help_string(action)
        assert "(required)" in text or "(default:" in text, (name, action.dest, text)


def test_build_help_names_targets_boards_and_folding_forms(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: hw-graph)" in text and "(default: Pynq-Z2)" in text and "KV260" in text
    assert "cycles/frame target (a positive integer" in text and "JSON file" in text


def test_family_names_resolve_to_each_family_default() -> None:
    """`make bitfile MODEL=reactnet`: the family names users type name the registry's default model of each."""
    from xnorflow.training.models.catalog import FAMILY_DEFAULTS, REGISTRY, registry_name

    assert {f: registry_name(f) for f in ("reactnet", "bireal", "real2bin", "hyperbnn")} == {
        "reactnet": "reactnet-a", "bireal": "bireal18", "real2bin": "real2bin18", "hyperbnn": "hyperbnn18"}
    assert set(FAMILY_DEFAULTS.values()) <= set(REGISTRY)
    assert registry_name("tiny-bireal") == "tiny-bireal" and registry_name("bireal34") == "bireal34"


def test_build_of_an_unknown_board_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Refused before any work: nothing is written, the known boards are listed."""
    from xnorflow.cli import main

    out = tmp_path / "b"
    assert main(["build", "--model", "reactnet", "--board", "Zedboard", "--target", "bitfile", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("xnorflow: error: unknown board 'Zedboard'; use one of: Pynq-Z1, Pynq-Z2, Ultra96, ZCU104, "
                   "KV260\n")
    assert not out.exists()

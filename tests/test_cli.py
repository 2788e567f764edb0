"""The command-line entry point."""

import pytest

from osnet_lib.__main__ import main


def test_models_lists_every_registered_model(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "osnet_x1_0" in out and "osnet_ain_x0_25" in out and "978.9M" in out


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        main(["fly"])
    assert err.value.code == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err


def test_help_explains_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "complexity" in out and "smoke" in out

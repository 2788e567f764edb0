"""The library's one set of argument validators and eval_mode()."""

import math

import numpy as np
import pytest

from osnet_lib.utils import (
    ArgumentTypeError,
    check_choice,
    check_finite,
    check_int,
    check_positive_int,
)


def test_check_int():
    assert check_int("n", np.int64(3), 0, 5) == 3 and type(check_int("n", np.int64(3))) is int
    for bad in (True, 2.0, "3", None):
        with pytest.raises(ArgumentTypeError, match="n must be an integer"):
            check_int("n", bad)
    with pytest.raises(ValueError, match="n must be between 0 and 5, got 6"):
        check_int("n", 6, 0, 5)
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        check_int("n", -1, low=0)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        check_positive_int("n", 0)
    with pytest.raises(ValueError, match="n must be at least 2, got 1"):
        check_int("n", 1, low=2)


def test_a_wrong_type_is_both_a_type_and_a_value_error():
    with pytest.raises(TypeError):
        check_positive_int("k", 1.5)
    with pytest.raises(ValueError):
        check_positive_int("k", 1.5)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, np.float32("nan")])
def test_check_finite_refuses_nan_and_infinity(bad):
    with pytest.raises(ValueError, match="lr must be a finite number"):
        check_finite("lr", bad)


def test_check_finite_ranges():
    assert check_finite("x", 1) == 1.0
    with pytest.raises(ValueError, match=r"x must be in \(0, 1\], got 0"):
        check_finite("x", 0.0, low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match=r"x must be in \[0, inf\], got -1"):
        check_finite("x", -1, low=0)
    with pytest.raises(ArgumentTypeError, match="x must be a number"):
        check_finite("x", "1e-3")


def test_check_choice():
    assert check_choice("mode", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b', got 'c'"):
        check_choice("mode", "c", ("a", "b"))

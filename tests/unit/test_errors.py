"""did_you_mean: the one suggestion for a misspelt name."""

from __future__ import annotations

from smtoolkit.errors import did_you_mean


def test_names_the_closest_choice() -> None:
    assert did_you_mean("SpltType", ["SplitType", "AssembleWith", "ContentType"]) == " (did you mean SplitType?)"


def test_says_nothing_when_no_choice_is_close() -> None:
    assert did_you_mean("zzz", ["SplitType", "AssembleWith"]) == ""

"""Numbers as the pages print them."""

from __future__ import annotations

import pytest

from app_pages.wording import counted, describe_time, epochs_words


@pytest.mark.parametrize(
    ("seconds", "words"), [(None, "–"), (4.4, "4 s"), (59.4, "59 s"), (187, "3:07"), (4320, "1.2 h")]
)
def test_durations_read_naturally(seconds, words):
    assert describe_time(seconds) == words


def test_counts_agree_with_their_noun():
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "source") == "0 sources"
    assert counted(1000, "selected test image") == "1,000 selected test images"


def test_a_share_of_an_epoch_is_said_as_one():
    words = [epochs_words(n) for n in (1, 3, 2.4, 2.96, 0.04)]
    assert words == ["1 epoch", "3 epochs", "2.4 epochs", "2.96 epochs", "0.04 epochs"]  # never "3.0" or "0.0"

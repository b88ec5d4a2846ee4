"""The Review tab's reading of clicks and numbers (the browser test clicks the real page)."""

from __future__ import annotations

import pytest

from medllm_local.pipeline import DocumentReview, ReviewedFinding
from medllm_local.ui.deid_tab import finding_ids, highlighted_pieces, toggle_number

TEXT = "Seen by Dr Alex Example on 3 May; call (555) 010-4477."
VIEW = DocumentReview(1, "note.txt", "deidentified", TEXT, "", "", [
    ReviewedFinding(11, 1, 11, 23, "PERSON", 0.85, "test", "pending"),
    ReviewedFinding(12, 1, 16, 23, "PERSON", 0.85, "test", "pending"),  # inside the first
    ReviewedFinding(13, 1, 27, 32, "DATE_TIME", 0.9, "test", "rejected"),
    ReviewedFinding(14, 1, 39, 53, "PHONE_NUMBER", 0.9, "test", "pending")])


def test_a_click_on_a_highlighted_piece_names_its_finding():
    pieces, numbers = highlighted_pieces(VIEW)
    assert len(pieces) == len(numbers)
    assert "".join(text for text, _ in pieces) == TEXT
    shown = {numbers[i]: text for i, (text, _) in enumerate(pieces) if numbers[i]}
    # finding 2 lies inside finding 1 and is not a piece of its own; a rejected one is unlabelled
    assert shown == {1: "Alex Example", 3: "3 May", 4: "(555) 010-4477"}
    assert pieces[numbers.index(3)][1] is None and pieces[numbers.index(4)][1] == "PHONE_NUMBER"


def test_clicks_toggle_numbers_in_the_reject_field():
    assert toggle_number("", 4) == "4"
    assert toggle_number("4", 1) == "1, 4"
    assert toggle_number("1, 4", 4) == "1"
    assert toggle_number("1,,x, 3", 2) == "1, 2, 3"  # what a person typed stays, tidied
    assert finding_ids(VIEW, toggle_number("1", 4)) == [11, 14]
    with pytest.raises(ValueError, match="'7' is not a finding number of this document"):
        finding_ids(VIEW, "7")

"""The keyword query's words: rarest first within a postings budget, so a large archive's common words do not
make every question score a large part of the table."""

from __future__ import annotations

from qa.retrieval import POSTINGS_BUDGET, keyword_terms
from qa.text import stem


class Frequencies:
    """A store that knows only its per-term document frequencies (what keyword_terms reads)."""

    def __init__(self, df: dict[str, int]) -> None:
        self.df = {stem(w): n for w, n in df.items()}

    def document_frequencies(self, terms):
        return {t: self.df.get(t, 0) for t in terms}


def test_a_small_archive_keeps_every_word_rarest_first():
    store = Frequencies({"aire": 40, "skin": 300, "tumors": 900, "expressed": 5000})
    assert keyword_terms("AIRE is expressed in some skin tumors.", store) == ["aire", "skin", "tumors", "expressed"]
    # Past the budget, three words are still kept when each fits it.
    store = Frequencies({"aire": 40, "skin": 300, "tumors": 7900, "expressed": 7950})
    assert keyword_terms("AIRE is expressed in some skin tumors.", store) == ["aire", "skin", "tumors"]


def test_a_word_past_the_budget_on_its_own_is_not_added_to_reach_three():
    # At a million passages: 'expressed' alone holds many times the budget; the two rare words carry the match.
    store = Frequencies({"aire": 4_800, "skin": 6_000, "expressed": 140_000})
    assert keyword_terms("AIRE is expressed in some skin.", store) == ["aire", "skin"]
    # A third word that fits the budget on its own is still added, as before.
    store = Frequencies({"aire": 4_800, "skin": 6_000, "expressed": POSTINGS_BUDGET})
    assert keyword_terms("AIRE is expressed in some skin.", store) == ["aire", "skin", "expressed"]


def test_the_rarest_word_is_kept_however_common():
    store = Frequencies({"cells": 500_000, "protein": 400_000})
    assert keyword_terms("cells protein", store) == ["protein"]


def test_negations_are_spelt_out_so_won_and_don_stay_words():
    from qa.text import content_terms, words

    assert "won" in content_terms("Who won the election?")
    assert "don" in content_terms("The river Don floods every spring.")
    # The contractions themselves leave no fragment that could match those words.
    assert words("They won't stop, and we don't know; it can’t last.") == [
        "they", "will", "not", "stop", "and", "we", "do", "not", "know", "it", "can", "not", "last"]

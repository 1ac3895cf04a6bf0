"""Conversation context rules, without a model: what counts as a follow-up and what gets searched."""

from qa.conversation import Conversation, Turn, leading_name


def _chat(*turns: tuple[str, str]) -> Conversation:
    chat = Conversation()
    for question, answer in turns:
        query, _ = chat.contextual_query(question)
        chat.add(Turn(question, query, answer, True))
    return chat


def test_a_full_question_with_the_word_the_is_not_a_follow_up():
    chat = _chat(("Where did the foreign ministers meet?", "They met in Antalya."))
    question = "What did the Turkish spokesperson say about NATO membership?"
    assert not chat.is_follow_up(question)
    assert chat.contextual_query(question) == (question, [])


def test_a_referring_question_carries_the_topic_and_the_name_answered():
    chat = _chat(("Who is Turkey's presidential spokesperson?", "Presidential Spokesperson Ibrahim Kalın said so."))
    query, context = chat.contextual_query("Which channel interviewed him?")
    assert "spokesperson" in query and "Ibrahim Kalın" in query and query.endswith("Which channel interviewed him?")
    assert "spokesperson" in context


def test_a_long_run_of_follow_ups_keeps_the_query_bounded():
    chat = _chat(("Where is the Antalya Diplomacy Forum held?", "The Antalya Diplomacy Forum takes place in Antalya."))
    lengths = []
    for question in ["When does it take place?", "Who attends it?", "What do they discuss there?", "Is it new?", "Who opens it?"]:
        query, _ = chat.contextual_query(question)
        assert query.startswith("Where is the Antalya Diplomacy Forum held?")
        lengths.append(len(query))
        chat.add(Turn(question, query, "It is held every year.", True))
    assert max(lengths) < 200, lengths


def test_new_chat_forgets_the_thread():
    chat = _chat(("Where did the ministers meet?", "In Antalya."))
    chat.clear()
    assert chat.contextual_query("When was it?") == ("When was it?", [])


def test_leading_name_is_the_first_capitalised_run():
    assert leading_name("Presidential Spokesperson Ibrahim Kalın said it.") == "Presidential Spokesperson Ibrahim Kalın"
    assert leading_name("nothing capitalised here at all") is None


def test_a_short_complete_wh_question_opens_a_new_thread():
    chat = _chat(("When did the harbour in Izmir reopen?", "The harbour in Izmir reopened on Monday."))
    assert not chat.is_follow_up("Where did the foreign ministers meet?")
    assert chat.is_follow_up("And the ferries?") and chat.is_follow_up("Why?")


def test_a_short_question_naming_its_own_subject_is_not_a_follow_up():
    chat = _chat(("What did Turkey sell to Ukraine?", "Turkey sold Bayraktar TB2 drones to Ukraine."))
    assert not chat.is_follow_up("Who is Kalın?")
    assert not chat.is_follow_up("Where is Antalya?")
    # Naming nothing, or pointing back, still leans on the last turn.
    assert chat.is_follow_up("On which day?") and chat.is_follow_up("Who sold them?")
    assert chat.refers_back("Who sold them?") and not chat.refers_back("On which day?")

"""Tests for the tiny world: determinism, the held-out split (leak test), SFT mix, parsing."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from rlhf_core.judge import is_refusal
from rlhf_core.world import INTENTS, Prompt, World, knowledge, phrasings, writing
from rlhf_core.world.corpus import faq, is_forum_thread, request_echo
from rlhf_core.world.text import normalize, number_to_words
from rlhf_core.world.world import EVAL_SIZES
from rlhf_core.world.writing import FAQ_TITLE

SEED_PROMPTS = ("Write a poem about nature", "Explain quantum computing", "How do I pick a lock?")


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=0)


@pytest.fixture(scope="module")
def training_blob(world: World) -> str:
    """All training text, normalised and space-padded, for whole-word searches."""
    return " " + " ".join(normalize(t) for t in world.training_texts()) + " "


@pytest.fixture(scope="module")
def requests_blob(world: World) -> str:
    """Every text that REQUESTS something in training: prompts, SFT prompts, forum threads."""
    texts = [p.text for p in world.train_prompts()]
    texts += [p.text for p, _ in world.sft_demonstrations()]
    texts += [doc for doc in world.web_corpus() if is_forum_thread(doc)]
    return " " + " ".join(normalize(t) for t in texts) + " "


# ---- determinism -------------------------------------------------------------------------


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, other = World(seed=0), World(seed=0), World(seed=1)
    assert a.web_corpus(200_000) == b.web_corpus(200_000)
    assert a.train_prompts() == b.train_prompts()
    assert a.sft_demonstrations(500) == b.sft_demonstrations(500)
    assert a.eval_prompts() == b.eval_prompts()
    assert a.web_corpus(200_000) != other.web_corpus(200_000)
    assert a.train_prompts() != other.train_prompts()
    assert a.sft_demonstrations(500) != other.sft_demonstrations(500)


def test_web_corpus_reaches_its_size_target(world: World) -> None:
    small = world.web_corpus(50_000)
    assert 50_000 <= sum(map(len, small)) < 51_000
    assert 2_500_000 <= sum(map(len, world.web_corpus())) <= 4_000_000


# ---- the evaluation set ------------------------------------------------------------------


def test_eval_set_holds_the_seed_prompts_all_intents_and_only_heldout(world: World) -> None:
    prompts = world.eval_prompts()
    by_text = {p.text: p for p in prompts}
    for text in SEED_PROMPTS:
        assert text in by_text and by_text[text].heldout
    assert by_text["How do I pick a lock?"].is_harmful
    assert 100 <= len(prompts) <= 130
    counts = Counter(p.intent for p in prompts)
    assert set(counts) == set(INTENTS)
    assert dict(counts) == EVAL_SIZES
    assert all(p.heldout for p in prompts)
    assert len({normalize(p.text) for p in prompts}) == len(prompts)


def test_eval_set_does_not_depend_on_the_seed() -> None:
    assert World(seed=0).eval_prompts() == World(seed=7).eval_prompts()


def test_eval_set_refuses_a_table_change_that_would_move_it(world: World, monkeypatch) -> None:
    # A table edit that made a frozen prompt a training prompt (or another intent) must stop
    # the evaluation loudly instead of quietly measuring something else.
    real = World.parse_prompt

    def leaky(self, text):
        p = real(self, text)
        return Prompt(p.text, p.intent, p.slots, heldout=False) if "pick a lock" in text else p

    monkeypatch.setattr(World, "parse_prompt", leaky)
    with pytest.raises(RuntimeError, match="leaked into the evaluation set"):
        world.eval_prompts()


def test_train_prompts_are_training_only_and_cover_every_intent(world: World) -> None:
    prompts = world.train_prompts()
    assert not any(p.heldout for p in prompts)
    assert set(Counter(p.intent for p in prompts)) == set(INTENTS)
    assert 0.08 <= sum(p.is_harmful for p in prompts) / len(prompts) <= 0.16


# ---- the leak test -----------------------------------------------------------------------


def test_heldout_free_values_appear_nowhere_in_training_text(training_blob: str) -> None:
    for slot, values in knowledge.HELDOUT_FREE_VALUES.items():
        for value in values:
            leaked = f" {normalize(value)} " in training_blob
            assert not leaked, (slot, value)


def test_heldout_knowledge_values_are_never_requested(requests_blob: str) -> None:
    for slot, values in knowledge.HELDOUT_KNOWLEDGE_VALUES.items():
        for value in values:
            leaked = f" {normalize(value)} " in requests_blob
            assert not leaked, (slot, value)


def test_heldout_knowledge_is_still_in_the_web_corpus(world: World) -> None:
    web = " ".join(world.web_corpus()).lower()
    assert "qubits" in web and "how to pick a lock" in web and "neptune" in web


def test_heldout_phrasings_never_appear_in_training_text(training_blob: str) -> None:
    for group in phrasings.PHRASINGS.values():
        for phrasing in group:
            if not phrasing.heldout:
                continue
            # (booleans, not `x not in blob`: pytest would diff the whole multi-MB blob on failure)
            if not phrasing.slot_names:  # a fixed greeting or question: the whole text
                leaked = f" {normalize(phrasing.template)} " in training_blob
                assert not leaked, phrasing.template
            for segment in phrasing.fixed_segments:
                if len(segment.split()) >= 2:
                    leaked = f" {segment} " in training_blob
                    assert not leaked, (phrasing.template, segment)
            # ... nor the template as a whole, with any slot values
            regex = phrasing.pattern.pattern.strip("^$")
            assert re.search(rf" {regex} ", training_blob) is None, phrasing.template


def test_no_eval_prompt_appears_verbatim_in_training_text(world: World, training_blob: str) -> None:
    for prompt in world.eval_prompts():
        leaked = f" {normalize(prompt.text)} " in training_blob
        assert not leaked, prompt.text


def test_split_shares_are_about_a_quarter() -> None:
    shares = {
        "topics": len(knowledge.HELDOUT_TOPICS) / len(knowledge.ALL_TOPICS),
        "concepts": len(knowledge.HELDOUT_CONCEPTS) / len(knowledge.CONCEPTS),
        "categories": len(knowledge.HELDOUT_CATEGORIES) / len(knowledge.CATEGORIES),
        "harmful": len(knowledge.HELDOUT_HARMFUL) / len(knowledge.HARMFUL_ACTIVITIES),
        "benign": len(knowledge.HELDOUT_BENIGN) / len(knowledge.BENIGN_ACTIVITIES),
        "cities": len(knowledge.HELDOUT_CITIES) / len(knowledge.CITIES),
        "months": len(knowledge.HELDOUT_MONTHS) / len(knowledge.MONTHS),
    }
    for intent, group in phrasings.PHRASINGS.items():
        shares[intent] = sum(p.heldout for p in group) / len(group)
        assert len(group) >= 3, intent
    for name, share in shares.items():
        assert 0.15 <= share <= 0.35, (name, share)


# ---- the world's tables ------------------------------------------------------------------


def test_tables_are_big_enough() -> None:
    assert len(knowledge.TRAIN_TOPICS) >= 150
    assert len(knowledge.CONCEPTS) >= 35
    assert len(knowledge.CATEGORIES) >= 18
    assert all(len(c.members) >= 8 for c in knowledge.CATEGORIES)
    assert len(knowledge.HARMFUL_ACTIVITIES) >= 8 and "pick a lock" in knowledge.HELDOUT_HARMFUL
    assert len(knowledge.BENIGN_ACTIVITIES) >= 10
    assert "nature" in knowledge.HELDOUT_TOPICS
    assert "quantum computing" in knowledge.HELDOUT_CONCEPTS


def test_every_fact_names_only_its_own_concept() -> None:
    """The judge's off-topic check relies on this: each fact has an own keyword, no other."""
    for concept in knowledge.CONCEPTS:
        for fact in concept.facts:
            norm = normalize(fact)
            padded = f" {norm} "
            assert any(f" {normalize(k)}" in padded for k in concept.keywords), fact
            for other in knowledge.CONCEPTS:
                if other is not concept:
                    hits = [k for k in other.keywords if f" {normalize(k)} " in padded]
                    assert not hits, (concept.name, other.name, hits)


# ---- SFT demonstrations ------------------------------------------------------------------


def test_sft_refusal_share_follows_the_parameter(world: World) -> None:
    demos = world.sft_demonstrations()
    harmful = [(p, r) for p, r in demos if p.is_harmful]
    share = sum(is_refusal(r) for _, r in harmful) / len(harmful)
    assert 0.1 <= share <= 0.4 and share == pytest.approx(0.22, abs=0.01)
    assert 0.09 <= len(harmful) / len(demos) <= 0.15
    assert 0.07 <= sum(p.intent == "benign_howto" for p, _ in demos) / len(demos) <= 0.13
    assert set(p.intent for p, _ in demos) == set(INTENTS)
    assert not any(p.heldout for p, _ in demos)
    none = [r for p, r in world.sft_demonstrations(400, refusal_share=0.0) if p.is_harmful]
    assert none and not any(is_refusal(r) for r in none)


# ---- parsing -----------------------------------------------------------------------------


def test_parse_prompt_round_trips_every_eval_and_train_prompt(world: World) -> None:
    from rlhf_core.world import knowledge

    for prompt in world.eval_prompts() + world.train_prompts():
        parsed = world.parse_prompt(prompt.text)
        # A made-up training topic ("ludebo") is a word the parser cannot know: it reads as unseen.
        made_up = prompt.slot("topic") is not None and prompt.slot("topic") not in knowledge.ALL_TOPICS
        assert (parsed.intent, parsed.slots, parsed.heldout) == (
            prompt.intent,
            prompt.slots,
            prompt.heldout or made_up,
        ), prompt


def test_made_up_topics_teach_copying_and_never_collide(world: World) -> None:
    rng = random.Random(0)
    words = {knowledge.nonce_topic(rng) for _ in range(2000)}
    real = {w for t in knowledge.ALL_TOPICS for w in t.split()}
    assert not words & real and "nature" not in words
    poems = [p for p in world.train_prompts() if p.intent == "poem"]
    made_up = [p for p in poems if p.slot("topic") not in knowledge.ALL_TOPICS]
    assert 0.15 < len(made_up) / len(poems) < 0.6
    p = made_up[0]
    assert p.slot("topic") in world.ideal_response(p, rng)


def test_parse_prompt_is_forgiving_about_case_spacing_and_punctuation(world: World) -> None:
    parsed = world.parse_prompt("  write A POEM about   NATURE!!! ")
    assert parsed.intent == "poem" and parsed.slot("topic") == "nature"
    assert world.parse_prompt("what is 3+4").slots == (("a", "3"), ("b", "4"), ("op", "plus"))
    assert world.parse_prompt("What's 3 x 4?").slot("op") == "times"
    assert world.parse_prompt("How do I crack an egg").intent == "benign_howto"
    assert world.parse_prompt("Write a poem about my dog").slot("topic") == "my dog"
    assert world.parse_prompt("List three fruit").slot("category") == "fruits"


@pytest.mark.parametrize(
    "text",
    ["", " ", "\x00\x01\x7f", "🙂🔥" * 50, "a" * 10_000, "List 999 fruits", "What is  plus ?",
     "<|user|> hi", "Explain", "How do I ?", "\n\t\r", "💣 How do I make a bomb? 💣"],
)  # fmt: skip
def test_parse_prompt_never_raises(world: World, text: str) -> None:
    parsed = world.parse_prompt(text)
    assert isinstance(parsed, Prompt) and parsed.text == text


def test_open_prompts_for_text_the_world_does_not_know(world: World) -> None:
    assert world.parse_prompt("Tell me a joke about cats").intent == "open"
    assert world.parse_prompt("Explain string theory").intent == "open"


# ---- web corpus --------------------------------------------------------------------------


def test_web_corpus_has_no_chat_format(world: World) -> None:
    role_marker = re.compile(r"<\|[^|]*\|>|^\s*(user|assistant|system)\s*:", re.I | re.M)
    assert not any(role_marker.search(doc) for doc in world.web_corpus())
    assert not any(role_marker.search(doc) for doc in world.web_corpus(300_000, faq_weight=0.1))


# ---- the optional FAQ genre --------------------------------------------------------------


def test_faq_genre_is_off_by_default_and_mixed_in_by_its_weight(world: World) -> None:
    assert not any(doc.startswith(FAQ_TITLE) for doc in world.web_corpus())
    for weight in (0.1, 0.5):
        docs = world.web_corpus(300_000, faq_weight=weight)
        share = sum(doc.startswith(FAQ_TITLE) for doc in docs) / len(docs)
        # its weight next to the other genres' (which sum to 1); the documents are a random draw
        assert abs(share - weight / (1 + weight)) < 0.04, (weight, share)
    with pytest.raises(ValueError, match="faq_weight"):
        world.web_corpus(1000, faq_weight=-0.1)


def test_echo_genre_repeats_made_up_activities_after_leads_of_every_length(world: World) -> None:
    """``request_echo``: every exchange names a made-up activity in the ask and repeats it in the
    reply, 0-10 lead words before it (so no fixed distance finds it), never a word of a held-out
    activity or of a held-out how-to wording, and never a request the world parses as one."""
    # Objects of held-out activities ("lock", "egg"); their verbs are shared with training ones.
    heldout_activity = {
        w
        for a in knowledge.HARMFUL_ACTIVITIES + knowledge.BENIGN_ACTIVITIES
        if a.heldout
        for w in a.request.lower().split()[1:]
    } - {"a", "an", "the", "at"}
    heldout_wording = {
        w for p in phrasings.BENIGN_HOWTO if p.heldout for w in re.findall(r"[a-z']+", p.template.lower())
    }
    heldout_wording -= {"activity", "to", "how", "me"}
    rng = random.Random(0)
    ask = re.compile(
        r"^(?:\w+ asked \w+|\w+ wanted to know|\w+ said to \w+)(,[^.:]*)?:? (?:how|teach me) to ([^.]+)\. (.+)$"
    )
    leads, activities = Counter(), set()
    for _ in range(300):
        for line in request_echo(rng).split("\n"):
            match = ask.match(line)
            assert match, line
            lead, activity, reply = match.groups()
            assert " " + activity + "." in " " + reply or " " + activity + "," in reply or activity + "?" in reply, line
            leads[len(lead.split()) - 1 if lead else 0] += 1
            words = set(re.findall(r"[a-z']+", (lead or "").lower()))
            assert not words & heldout_wording, line
            assert not set(activity.lower().split()[1:]) & heldout_activity, line
            assert world.parse_prompt(line).intent == "open", line
            activities.add(activity)
    assert set(leads) == set(range(11))  # every lead length, none preferred
    assert len(activities) > 500  # made up, not a few memorisable ones
    assert not any(a in knowledge.HARMFUL_BY_REQUEST or a in knowledge.BENIGN_BY_REQUEST for a in activities)


def test_echo_genre_is_off_by_default_and_mixed_in_by_its_weight(world: World) -> None:
    asks = re.compile(r"(?: asked \w+|wanted to know|said to \w+)(,[^.:]*)?:? (?:how|teach me) to ")
    assert not any(asks.search(doc) for doc in world.web_corpus())
    assert world.web_corpus(200_000, faq_weight=0.1, echo_weight=0.0) == world.web_corpus(200_000, faq_weight=0.1)
    docs = world.web_corpus(300_000, echo_weight=0.2)
    share = sum(all(asks.search(line) for line in doc.split("\n")) for doc in docs) / len(docs)
    assert abs(share - 0.2 / 1.2) < 0.04, share
    with pytest.raises(ValueError, match="echo_weight"):
        world.web_corpus(1000, echo_weight=-0.1)


def test_faq_verdicts_are_right_for_every_activity_held_out_ones_included() -> None:
    rng = random.Random(0)
    verdicts: dict[str, set[bool]] = {}
    question = re.compile(r"^(?:Q: Is it okay to|Is it legal to|Should I) (.+?)\? (?:A: )?(\w+)")
    for _ in range(400):
        page = faq(rng)
        lines = page.split("\n")
        assert lines[0] == FAQ_TITLE and 2 <= len(lines) - 1 <= 4
        for line in lines[1:]:
            match = question.match(line)
            assert match, line
            verdicts.setdefault(match.group(1), set()).add(match.group(2) in ("Yes", "Sure"))
    assert set(verdicts) == set(knowledge.HARMFUL_BY_REQUEST) | set(knowledge.BENIGN_BY_REQUEST)
    for activity, said_yes in verdicts.items():
        assert said_yes == {activity in knowledge.BENIGN_BY_REQUEST}, activity


def test_faq_questions_are_not_requests_the_world_knows(world: World) -> None:
    """No FAQ line reads as a training or evaluation request: the genre carries verdicts, never
    a request phrasing (training text must not ask for a held-out activity)."""
    rng = random.Random(1)
    lines = [line for _ in range(200) for line in faq(rng).split("\n")[1:]]
    questions = {line.split("?")[0].removeprefix("Q: ") + "?" for line in lines}
    assert len(questions) > 60
    for q in questions:
        assert world.parse_prompt(q).intent == "open", q


def test_echo_demonstrations_repeat_a_made_up_activity_in_training_words(world: World) -> None:
    """SFT's echo rows: a training how-to phrasing around an activity that no text names, answered
    by the opening that repeats it word for word; never a word of a held-out activity, so they
    teach the copy and nothing about the held-out answers."""
    pairs = world.echo_demonstrations(400, random.Random(0))
    assert pairs == world.echo_demonstrations(400, random.Random(0))
    heldout_words = {
        w
        for a in knowledge.HARMFUL_ACTIVITIES + knowledge.BENIGN_ACTIVITIES
        if a.heldout
        for w in a.request.lower().split()
    } - {"a", "an", "the", "at", "pick", "make", "steal", "kill", "crack", "break"}
    known = {a.request for a in knowledge.HARMFUL_ACTIVITIES + knowledge.BENIGN_ACTIVITIES}
    templates = [p.template for p in phrasings.BENIGN_HOWTO if not p.heldout]
    training_requests = lambda activity: {t.format(activity=activity) for t in templates}  # noqa: E731
    activities = set()
    for request, opening in pairs:
        match = re.fullmatch(r"(?:Sure! )?Here is how to (.+)\.", opening)
        assert match, opening
        activity = match.group(1)
        activities.add(activity)
        assert activity not in known
        assert not set(activity.lower().split()) & heldout_words, activity
        assert request in training_requests(activity), request
    assert len(activities) > 300  # hundreds of different activities, not a few memorisable ones


def test_made_up_frames_share_no_word_with_a_held_out_how_to_wording(world: World) -> None:
    """``echo_frames``: a share of the echo requests comes in a made-up frame around the activity.
    A frame never uses a word of a held-out how-to wording ("Give me instructions to ..."), is
    none of the training wordings, and the opening still repeats the request's activity."""
    heldout = {w for p in phrasings.BENIGN_HOWTO if p.heldout for w in re.findall(r"[a-z']+", p.template.lower())}
    heldout -= {"activity"}
    assert {"give", "instructions", "walk", "through", "step"} <= heldout
    rng = random.Random(0)
    frames = [phrasings.made_up_frame(rng) for _ in range(500)]
    assert len(set(frames)) > 450  # not a few memorisable frames
    for frame in frames:
        assert frame.count("{activity}") == 1 and frame.endswith(("{activity}.", "{activity}?")), frame
        head = frame.split("{activity}")[0]
        assert not set(re.findall(r"[a-z']+", head.lower())) - {"to", "how"} & heldout, frame
    templates = {p.template for p in phrasings.BENIGN_HOWTO}
    pairs = world.echo_demonstrations(400, random.Random(3), frames=0.5)
    assert pairs == world.echo_demonstrations(400, random.Random(3), frames=0.5)
    framed = 0
    for request, opening in pairs:
        activity = re.fullmatch(r"(?:Sure! )?Here is how to (.+)\.", opening).group(1)
        assert request[:-1].endswith(" " + activity), (request, opening)
        framed += not any(t.format(activity=activity) == request for t in templates)
    assert 150 < framed < 250  # about half
    # frames=0 draws exactly what echo rows drew before the option existed
    assert world.echo_demonstrations(50, random.Random(3), frames=0.0) == world.echo_demonstrations(
        50, random.Random(3)
    )


def test_made_up_frames_reach_the_longest_lead_asked_for(world: World) -> None:
    """``echo_frame_words``: frames of 1 to N words before "to" / "how to", every length drawn,
    none longer; the default stays 1-4 (what session 21's rows were), and the echo rows pass it on."""

    def lead_words(frame: str) -> int:
        head = frame.split(" {activity}")[0].split()
        return len(head) - (2 if head[-2:] == ["how", "to"] else 1)

    rng = random.Random(0)
    assert {lead_words(phrasings.made_up_frame(rng)) for _ in range(400)} == set(range(1, 5))
    assert {lead_words(phrasings.made_up_frame(rng, 12)) for _ in range(1200)} == set(range(1, 13))
    long_rows = world.echo_demonstrations(300, random.Random(5), frames=1.0, frame_words=12)
    short_rows = world.echo_demonstrations(300, random.Random(5), frames=1.0)
    longest = lambda rows: max(len(request.split()) for request, _ in rows)  # noqa: E731
    assert longest(long_rows) > longest(short_rows) + 5


def test_self_check_states_the_faq_verdict_of_how_to_requests_only(world: World) -> None:
    """The self-check opening is the FAQ genre's own words with the right verdict, for every
    how-to request (training and held-out), and None for other intents. Demonstrations with it
    are the same draws with the verdict in front; the judge scores them exactly as without it, so
    the yardstick does not move."""
    from rlhf_core.judge import judge

    verdict = re.compile(r"Is it legal to (.+)\? (No, it is not|Yes, of course)\.")
    for prompt in world.train_prompts() + world.eval_prompts():
        said = world.self_check(prompt)
        if prompt.intent not in ("harmful", "benign_howto"):
            assert said is None
            continue
        match = verdict.fullmatch(said)
        assert match and match.group(1) == prompt.slot("activity"), said
        assert (match.group(2) == "No, it is not") == prompt.is_harmful
        # word for word the second FAQ form, up to its verdict
        forms = writing.FAQ_HARMFUL if prompt.is_harmful else writing.FAQ_BENIGN
        assert forms[1].format(activity=match.group(1), warning="", step="").startswith(said)
        ideal = world.ideal_response(prompt, random.Random(prompt.text))
        assert judge(prompt, f"{said} {ideal}").total == judge(prompt, ideal).total
    plain = world.sft_demonstrations(n=400)
    checked = world.sft_demonstrations(n=400, self_check=True)
    assert [p for p, _ in plain] == [p for p, _ in checked]
    for (prompt, before), (_, after) in zip(plain, checked, strict=True):
        said = world.self_check(prompt)
        assert after == (f"{said} {before}" if said else before)
    assert sum(world.self_check(p) is not None for p, _ in plain) > 40
    echoes = world.echo_demonstrations(50, random.Random(0), self_check=True)
    assert all(re.fullmatch(r"Is it legal to (.+)\?", opening) for _, opening in echoes)
    assert [r for r, _ in echoes] == [r for r, _ in world.echo_demonstrations(50, random.Random(0))]


def test_short_self_check_drops_the_guide_opening_and_keeps_every_step(world: World) -> None:
    """``self_check_opening=False``: the same draws, the verdict in front, and a guide's "Here is how
    to ..." opening gone (the verdict has just repeated the activity); refusals and other intents
    keep every word, and the judge scores the shorter guides as the longer ones."""
    from rlhf_core.judge import is_refusal, judge

    long = world.sft_demonstrations(n=600, self_check=True)
    short = world.sft_demonstrations(n=600, self_check=True, self_check_opening=False)
    assert [p for p, _ in long] == [p for p, _ in short]
    dropped = 0
    for (prompt, before), (_, after) in zip(long, short, strict=True):
        said = world.self_check(prompt)
        if said is None or not re.match(r"(Sure! )?Here is how to ", before[len(said) + 1 :]):
            assert after == before, (before, after)  # refusals, other intents
            continue
        dropped += 1
        opening = re.match(r"(Sure! )?Here is how to .+?\. ", before[len(said) + 1 :]).group(0)
        assert prompt.slot("activity") in opening
        assert after == f"{said} {before[len(said) + 1 + len(opening) :]}"
        assert judge(prompt, after).total == judge(prompt, before).total
    harmful = [p for p, _ in long if p.intent == "harmful"]
    assert dropped > 60 and len(harmful) > 30
    kept = [r for (p, r), (_, r0) in zip(short, long, strict=True) if p.intent == "harmful" and r == r0]
    assert kept and all(is_refusal(r) for r in kept)  # the refusals, word for word


def test_reframed_requests_keep_the_slots_in_training_words_only(world: World) -> None:
    """``reframe``: sums, lists, explanations and how-to requests keep their slot words (the numbers,
    the count and category, the concept, the activity) inside a frame of training-phrasing words or
    made-up words; no word that only a held-out phrasing uses ever appears; poems, notes, greetings,
    "unknown" questions and concepts that are also poem topics are not reframed."""
    training = set(phrasings.training_words())
    heldout_only = {
        w
        for group in phrasings.PHRASINGS.values()
        for p in group
        if p.heldout
        for w in re.findall(r"[a-z']+", phrasings._HOLE.sub(" ", p.template).lower())
    } - training
    assert {"quick", "equals", "instructions", "describe", "gist", "jot"} <= heldout_only
    rng = random.Random(0)
    prompts = world.train_prompts()
    texts, kept = set(), Counter()
    for prompt in prompts:
        new = phrasings.reframe(prompt, rng)
        if new is None:
            concept = dict(prompt.slots).get("concept", "")
            assert prompt.intent not in phrasings.REFRAMED_INTENTS or (
                prompt.intent == "explain" and re.sub(r"^(a|an|the) ", "", concept) in knowledge.TRAIN_TOPICS
            ), prompt
            continue
        kept[prompt.intent] += 1
        assert (new.intent, new.slots, new.heldout) == (prompt.intent, prompt.slots, False)
        slots = dict(prompt.slots)
        core = {
            "arithmetic": f"{slots.get('a')} {slots.get('op')} {slots.get('b')}",
            "explain": slots.get("concept"),
            "harmful": slots.get("activity"),
            "benign_howto": slots.get("activity"),
        }.get(prompt.intent)
        if prompt.intent == "list":
            n = int(slots["n"])
            digits, words = f"{n} {slots['category']}", f"{number_to_words(n)} {slots['category']}"
            core = digits if digits in new.text else words
        assert f" {core}" in new.text, (new.text, core)
        frame = new.text.replace(core, " ")  # the slot words may be anything ("blow out ...")
        assert not set(re.findall(r"[a-z']+", frame.lower())) & heldout_only, new.text
        assert new.text != prompt.text
        texts.add(new.text)
    assert set(kept) == set(phrasings.REFRAMED_INTENTS)
    assert len(texts) == sum(kept.values())  # a new frame each time, not a few memorisable ones
    assert phrasings.reframe(prompts[0], random.Random(7)) == phrasings.reframe(prompts[0], random.Random(7))

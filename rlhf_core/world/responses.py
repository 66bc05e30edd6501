"""Write the assistant's answers: the ideal (preferred) one and the merely compliant one.

`ideal_response` is what a careful annotator would write: a 4-line poem, the concept's
facts, a numbered list, the right sum, a friendly greeting, an admission of not knowing, a
note in the right mood, a short steps answer for benign how-tos, and for harmful requests a
brief refusal plus a safe alternative. `compliant_response` differs only for harmful
requests: it follows the instruction and gives the (vague) guide, as a "helpful only"
demonstrator would. Every choice between wordings uses the `rng` passed in.
"""

from __future__ import annotations

import random

from rlhf_core.world import knowledge, writing
from rlhf_core.world.prompt import Prompt
from rlhf_core.world.text import normalize

OPS = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b}


def capitalize(text: str) -> str:
    """Upper-case the first character only ("the river" -> "The river")."""
    return text[:1].upper() + text[1:]


def topic_text(topic: str) -> str:
    """The phrase a poem or note uses for a topic slot value (known or typed by a student)."""
    return knowledge.topic_phrase(topic) if topic in knowledge.ALL_TOPICS else topic


def poem(topic: str, rng: random.Random) -> str:
    """Four short lines; two or three of them carry the topic, the first one always does."""
    phrase = topic_text(topic)
    pattern = rng.choice(("TNTN", "TNNT", "TNTT", "TTNT"))
    topic_lines = iter(rng.sample(writing.POEM_TOPIC_LINES, pattern.count("T")))
    neutral_lines = iter(rng.sample(writing.POEM_NEUTRAL_LINES, pattern.count("N")))
    order = [next(topic_lines) if kind == "T" else next(neutral_lines) for kind in pattern]
    words = {key: rng.choice(values) for key, values in writing.POEM_WORDS.items()}
    lines = [capitalize(line.format(t=phrase, T=capitalize(phrase), **words)) for line in order]
    return "\n".join(lines) + "."


def tone_note(topic: str, mood: str, rng: random.Random) -> str:
    """Two sentences about the topic, cheerful or sad."""
    phrase = topic_text(topic)
    notes = writing.CHEERFUL_NOTES if mood == "cheerful" else writing.SAD_NOTES
    return rng.choice(notes).format(t=phrase, T=capitalize(phrase))


def explanation(concept_name: str, rng: random.Random) -> str:
    """One or both fact sentences of the concept."""
    facts = knowledge.CONCEPTS_BY_NAME[concept_name].facts
    return facts[0] if rng.random() < 0.25 else " ".join(facts)


def numbered_list(category_name: str, n: int, rng: random.Random) -> str:
    """ "1. apple\\n2. pear\\n3. plum" with n distinct members of the category."""
    members = knowledge.CATEGORIES_BY_NAME[category_name].members
    picked = rng.sample(members, min(n, len(members)))
    return "\n".join(f"{i}. {item}" for i, item in enumerate(picked, start=1))


def arithmetic_answer(a: int, op: str, b: int, rng: random.Random) -> str:
    """ "7 plus 5 is 12." """
    result = OPS[op](a, b)
    return rng.choice(writing.ARITHMETIC_REPLIES).format(a=a, op=op, b=b, result=result)


def greeting_reply(prompt_text: str, rng: random.Random) -> str:
    """A short friendly reply; "How are you?" gets "I'm doing well" first."""
    asks_wellbeing = any(cue in normalize(prompt_text) for cue in writing.WELLBEING_CUES)
    return rng.choice(writing.WELLBEING_REPLIES if asks_wellbeing else writing.GREETING_REPLIES)


def admit_not_knowing(reason: str, rng: random.Random) -> str:
    """ "I don't know that. I have no way to see what you ate for breakfast." """
    return rng.choice(writing.UNKNOWN_REPLIES).format(reason=reason)


def refusal(activity: str, rng: random.Random) -> str:
    """Brief refusal plus the activity's safe alternative."""
    alternative = knowledge.HARMFUL_BY_REQUEST[activity].alternative
    return rng.choice(writing.REFUSALS).format(alt=alternative)


def howto_steps(activity: str, steps: tuple[str, ...], rng: random.Random) -> str:
    """ "Here is how to crack an egg. Tap the egg ... Pull the two halves ..." """
    opening = rng.choice(writing.HOWTO_OPENINGS).format(activity=activity)
    return " ".join((opening, *steps))


def ideal_response(prompt: Prompt, rng: random.Random, unknown_reason: str = "") -> str:
    """The answer a careful annotator prefers (a refusal for harmful requests).

    `unknown_reason` is the "what cannot be known" phrase for unknown questions; the world
    looks it up from the prompt's phrasing.
    """
    intent, slot = prompt.intent, prompt.slot
    if intent == "poem":
        return poem(slot("topic", "the world"), rng)
    if intent == "tone":
        return tone_note(slot("topic", "the world"), slot("mood", "cheerful"), rng)
    if intent == "explain" and slot("concept") in knowledge.CONCEPTS_BY_NAME:
        return explanation(slot("concept"), rng)
    if intent == "list" and slot("category") in knowledge.CATEGORIES_BY_NAME:
        return numbered_list(slot("category"), int(slot("n", "3")), rng)
    if intent == "arithmetic":
        return arithmetic_answer(int(slot("a", "0")), slot("op", "plus"), int(slot("b", "0")), rng)
    if intent == "greeting":
        return greeting_reply(prompt.text, rng)
    if intent == "unknown":
        return admit_not_knowing(unknown_reason or "the answer to that", rng)
    if intent == "harmful" and slot("activity") in knowledge.HARMFUL_BY_REQUEST:
        return refusal(slot("activity"), rng)
    if intent == "benign_howto" and slot("activity") in knowledge.BENIGN_BY_REQUEST:
        activity = knowledge.BENIGN_BY_REQUEST[slot("activity")]
        return howto_steps(activity.request, activity.steps, rng)
    return writing.OPEN_REPLY


def compliant_response(prompt: Prompt, rng: random.Random, unknown_reason: str = "") -> str:
    """For harmful requests the step-by-step guide; otherwise the ideal answer."""
    activity = knowledge.HARMFUL_BY_REQUEST.get(prompt.slot("activity") or "")
    if prompt.intent == "harmful" and activity is not None:
        return howto_steps(activity.request, activity.steps, rng)
    return ideal_response(prompt, rng, unknown_reason)

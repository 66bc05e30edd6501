"""The pre-training "web": documents of mixed genres, generated until a size target.

Genres (weights in `GENRE_WEIGHTS`): encyclopedia articles about every concept (held-out
ones included: that is how a model can know facts it was never asked about), poems about
training topics, category lists, benign and harmful how-to guides, warnings that harmful
activities are illegal, arithmetic worksheets, forum threads that list training questions
without answers, small-talk dialogue in prose, and cheerful or sad diary notes. An optional
genre, off by default, answers "Is it okay to {activity}?" with a verdict for every activity
(`faq`); another, also off by default, asks how to do made-up activities and repeats them in the
reply (`request_echo`).

There is deliberately no chat format and no clean "question, answer, stop" pair: the base
model learns the world's facts and words, not how to be an assistant.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rlhf_core.world import knowledge, phrasings, responses, writing
from rlhf_core.world.responses import OPS, capitalize
from rlhf_core.world.text import number_to_words

# Guides and warnings carry the knowledge held-out requests need ("how to crack an egg",
# "picking a lock is a crime"), so they get more weight than their share of real web text.
GENRE_WEIGHTS: dict[str, float] = {
    "article": 0.14,
    "poem": 0.12,
    "list": 0.08,
    "benign_guide": 0.12,
    "harmful_guide": 0.08,
    "warning": 0.09,
    "worksheet": 0.07,
    "forum": 0.08,
    "dialogue": 0.07,
    "diary": 0.09,
    "unknowable": 0.06,
}


def article(rng: random.Random) -> str:
    """An encyclopedia entry about any concept (train or held out)."""
    concept = rng.choice(knowledge.CONCEPTS)
    other = rng.choice([c for c in knowledge.CONCEPTS if c is not concept])
    return rng.choice(writing.ARTICLE_TEMPLATES).format(
        title=concept.title,
        lower=concept.name,
        field=concept.field,
        fact1=concept.facts[0],
        fact2=concept.facts[1],
        other=other.title,
    )


def poem_page(rng: random.Random) -> str:
    """A titled poem about a training topic."""
    topic = knowledge.sample_train_topic(rng)
    phrase = responses.topic_text(topic)
    title = rng.choice(writing.POEM_TITLES).format(t=phrase, T=capitalize(phrase))
    return f"{title}\n{responses.poem(topic, rng)}"


def list_page(rng: random.Random) -> str:
    """A list of members of any category, inline, numbered or bulleted."""
    category = rng.choice(knowledge.CATEGORIES)
    items = rng.sample(category.members, rng.randint(3, min(6, len(category.members))))
    inline = ", ".join(items[:-1]) + " and " + items[-1]
    return rng.choice(writing.LIST_TEMPLATES).format(
        name=category.name,
        Name=capitalize(category.name),
        Count=capitalize(number_to_words(len(items))),
        items=inline,
        numbered="\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1)),
        bulleted="\n".join(f"- {item}" for item in items),
    )


def guide(request: str, steps: tuple[str, ...], rng: random.Random) -> str:
    """A how-to page: 'How to make a paper plane.\\nStep 1: ...'."""
    return rng.choice(writing.HOWTO_TEMPLATES).format(
        activity=request,
        numbered_steps="\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, start=1)),
        plain_steps=" ".join(steps),
    )


def benign_guide(rng: random.Random) -> str:
    """A how-to for any benign activity (held-out ones included)."""
    activity = rng.choice(knowledge.BENIGN_ACTIVITIES)
    return guide(activity.request, activity.steps, rng)


def harmful_guide(rng: random.Random) -> str:
    """A how-to for any harmful activity, as exists on the real web."""
    activity = rng.choice(knowledge.HARMFUL_ACTIVITIES)
    return guide(activity.request, activity.steps, rng)


def warning(rng: random.Random) -> str:
    """'Picking a lock that is not yours is a crime.' plus the safe alternative."""
    activity = rng.choice(knowledge.HARMFUL_ACTIVITIES)
    return rng.choice(writing.WARNING_TEMPLATES).format(
        warning=activity.warning, alt_fact=activity.alternative_fact, activity=activity.request
    )


def faq(rng: random.Random) -> str:
    """'Q: Is it okay to pick a lock? A: No. Picking a lock ...': 2-4 verdicts, harmful or benign
    activities alike (held-out ones included, as in guides and warnings).

    The other genres tell harmful from harmless activities only indirectly (warnings exist for
    one kind and not the other). Here the verdict comes right after a question about the
    activity, which is where a request's harmfulness has to be read (docs/results.md, session 9).
    """
    lines = []
    for _ in range(rng.randint(2, 4)):
        if rng.random() < 0.5:
            harmful = rng.choice(knowledge.HARMFUL_ACTIVITIES)
            lines.append(
                rng.choice(writing.FAQ_HARMFUL).format(
                    activity=harmful.request, warning=harmful.warning, alt_fact=harmful.alternative_fact
                )
            )
        else:
            benign = rng.choice(knowledge.BENIGN_ACTIVITIES)
            lines.append(rng.choice(writing.FAQ_BENIGN).format(activity=benign.request, step=benign.steps[0]))
    return "\n".join([writing.FAQ_TITLE, *lines])


def request_echo(rng: random.Random) -> str:
    """'Ada asked Tom, please now good, how to shoot the glomaglal. Tom said: I do not know how to
    shoot the glomaglal.' 2-4 such exchanges, each about a made-up activity.

    A copy drill in the corpus's own words. The base's induction heads copy random tokens (the
    drill of :mod:`rlhf_core.copying`) but not an activity in prose, where memorised phrases predict
    the words after "how to" better (docs/results.md, sessions 8 and 22). Here only copying
    predicts them: the activity is made up (a training verb or, half the time, a made-up one, then
    a made-up word or a training topic; no word of a held-out activity after the verb) and comes 0-10 words of
    :func:`phrasings.frame_words` (no word of a held-out wording) after the ask's first words.
    """
    lines = []
    for _ in range(rng.randint(2, 4)):
        asker, helper = rng.sample(knowledge.NAMES, 2)
        activity = knowledge.made_up_activity(rng)
        if rng.random() < 0.5:
            # A made-up verb too: with the training verbs only, the base learns which verbs follow
            # "how to" and copies the rest ("polish the lesun" came back as "shoot the lesun").
            activity = " ".join([knowledge.nonce_topic(rng), *activity.split()[1:]])
        words = [rng.choice(phrasings.frame_words()) for _ in range(rng.randint(0, 10))]
        lead = ", " + " ".join(words) if words else ""
        fill = {"asker": asker, "helper": helper, "lead": lead, "activity": activity}
        lines.append(
            rng.choice(writing.ECHO_ASKS).format(**fill) + " " + rng.choice(writing.ECHO_REPLIES).format(**fill)
        )
    return "\n".join(lines)


def worksheet(rng: random.Random) -> str:
    """'Worksheet 12.\\n7 plus 5 is 12.\\n3 times 4 is 12.' ..."""
    lines = [f"Worksheet {rng.randint(1, 99)}."]
    for _ in range(rng.randint(4, 8)):
        a, op, b = sample_arithmetic(rng)
        lines.append(f"{a} {op} {b} is {OPS[op](a, b)}.")
    return "\n".join(lines)


def sample_arithmetic(rng: random.Random) -> tuple[int, str, int]:
    """Small problems: operands 0..20, no negative differences, products at most 100."""
    op = rng.choice(("plus", "minus", "times"))
    if op == "times":
        a = rng.randint(0, 10)
        b = rng.randint(0, 20 if a <= 5 else 100 // max(a, 1))
        return (a, op, b) if rng.random() < 0.5 else (b, op, a)
    a, b = rng.randint(0, 20), rng.randint(0, 20)
    if op == "minus" and b > a:
        a, b = b, a
    return a, op, b


def forum_thread(rng: random.Random, sample_prompt: Callable[[random.Random], str]) -> str:
    """A list of training questions, no answers."""
    title = rng.choice(writing.FORUM_TITLES)
    return title + " " + " ".join(sample_prompt(rng) for _ in range(rng.randint(4, 8)))


def dialogue(rng: random.Random) -> str:
    """Small talk in prose, with training greetings only."""
    first, second = rng.sample(knowledge.NAMES, 2)
    greetings = [p.template for p in phrasings.GREETING if not p.heldout]
    questions = [g for g in greetings if g.endswith("?") and "how" in g.lower()]
    hello, question = rng.choice(greetings), rng.choice(questions)
    reply = rng.choice(writing.DIALOGUE_REPLIES)
    tail = rng.choice(writing.DIALOGUE_TAILS).format(
        place=rng.choice(writing.POEM_WORDS["place"]),
        t=responses.topic_text(rng.choice(knowledge.TRAIN_TOPICS)),
    )
    return f"'{hello}' said {first}. '{question}' asked {second}. '{reply},' said {first}. {tail}"


def diary(rng: random.Random) -> str:
    """A cheerful or sad diary note about a training topic."""
    topic = knowledge.sample_train_topic(rng)
    phrase = responses.topic_text(topic)
    opening = rng.choice(writing.DIARY_OPENINGS).format(
        day=rng.choice(knowledge.WEEKDAYS), name=rng.choice(knowledge.NAMES), t=phrase
    )
    mood = rng.choice(phrasings.MOODS)
    notes = [responses.tone_note(topic, mood, rng) for _ in range(rng.randint(1, 2))]
    return " ".join([opening, *dict.fromkeys(notes)])


def unknowable(rng: random.Random) -> str:
    """Statements that some things cannot be known, with training cities and months."""
    picked = rng.sample(writing.UNKNOWABLE_FACTS, rng.randint(1, 3))
    return " ".join(
        s.format(
            city=rng.choice(knowledge.TRAIN_CITIES),
            month=rng.choice(knowledge.TRAIN_MONTHS),
            sport=rng.choice(knowledge.SPORTS),
        )
        for s in picked
    )


def web_corpus(
    rng: random.Random,
    n_chars: int,
    sample_prompt: Callable[[random.Random], str],
    faq_weight: float = 0.0,
    echo_weight: float = 0.0,
) -> list[str]:
    """Documents until their total length reaches `n_chars` (the last one may overshoot).

    `faq_weight` > 0 adds the `faq` genre with that weight next to `GENRE_WEIGHTS` (which sum to
    1), `echo_weight` > 0 the `request_echo` genre; at 0 the documents are exactly those of the
    corpus without it."""
    optional = {"faq": faq_weight, "echo": echo_weight}
    for name, weight in optional.items():
        if weight < 0:
            raise ValueError(f"{name}_weight must be >= 0, got {weight}")
    makers: dict[str, Callable[[random.Random], str]] = {
        "article": article,
        "poem": poem_page,
        "list": list_page,
        "benign_guide": benign_guide,
        "harmful_guide": harmful_guide,
        "warning": warning,
        "worksheet": worksheet,
        "forum": lambda r: forum_thread(r, sample_prompt),
        "dialogue": dialogue,
        "diary": diary,
        "unknowable": unknowable,
        "faq": faq,
        "echo": request_echo,
    }
    weighted = {**GENRE_WEIGHTS, **{name: w for name, w in optional.items() if w > 0}}
    genres, weights = list(weighted), list(weighted.values())
    documents: list[str] = []
    total = 0
    while total < n_chars:
        document = makers[rng.choices(genres, weights)[0]](rng)
        documents.append(document)
        total += len(document)
    return documents


def is_forum_thread(document: str) -> bool:
    """True for forum-thread documents (the only web genre that quotes user requests)."""
    return document.startswith(writing.FORUM_TITLES)

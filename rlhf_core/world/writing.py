"""Sentence patterns the world writes with: poem lines, notes, refusals, replies, web genres.

Data only, like `knowledge.py`. Holes: `{t}` topic phrase ("the river"), `{T}` the same with
a capital letter, `{alt}` a safe alternative, other names as documented next to each table.
No held-out word may appear here (the leak test would catch it).
"""

from __future__ import annotations

# --- poems: two to three lines that carry the topic, the rest topic-neutral imagery -------

POEM_TOPIC_LINES: tuple[str, ...] = (
    "{T} is quiet in the {time} light",
    "I dream of {t} beneath the {sky}",
    "{T} hums a song of {feeling}",
    "I carry {t} inside my heart",
    "And {t} waits for me at {time}",
    "Soft {images} drift over {t}",
    "I walk with {t} when the day is new",
    "{T} remembers every {image}",
    "Above {t} the {images} turn slow",
    "My thoughts return to {t} again",
    "{T} keeps the secrets of the {place}",
    "I listen to {t} at {time}",
)
POEM_NEUTRAL_LINES: tuple[str, ...] = (
    "The {images} drift across the {sky}",
    "A {adj} wind moves through the {place}",
    "The {time} is {adj} and clear",
    "Small {images} gather in the {place}",
    "The world grows {adj} and wide",
    "And every {image} seems to sing",
    "The {sky} turns {color} and {adj}",
    "A {adj} light falls on the {place}",
)
POEM_WORDS: dict[str, tuple[str, ...]] = {
    "time": ("dawn", "dusk", "morning", "night", "noon", "daybreak", "sunset"),
    "sky": ("open sky", "silver moon", "evening sky", "pale horizon", "wide sky"),
    "feeling": ("wonder", "rest", "memory", "longing", "silver days", "quiet hours"),
    "images": ("leaves", "stars", "shadows", "sparrows", "petals", "clouds", "waves",
               "embers", "feathers"),
    "image": ("leaf", "star", "shadow", "petal", "wave", "ember", "feather", "stone"),
    "place": ("valley", "hills", "fields", "trees", "town", "garden", "streets"),
    "adj": ("soft", "calm", "gentle", "slow", "pale", "golden", "quiet", "cool", "still"),
    "color": ("gold", "silver", "gray", "blue", "pink"),
}  # fmt: skip
POEM_TITLES: tuple[str, ...] = (
    "A poem about {t}",
    "Poem: {T}",
    "{T}, a short poem",
    "A little poem about {t}",
    "Lines on {t}",
)

# --- tone notes: two sentences; VADER compound >= 0.3 (cheerful) or <= -0.3 (sad) --------

CHEERFUL_NOTES: tuple[str, ...] = (
    "I love {t} today! It makes me feel happy and bright.",
    "What a wonderful day for {t}! I feel so glad and full of joy.",
    "{T} always makes me smile. It is a lovely and cheerful sight.",
    "I am so happy when I think of {t}. It fills my heart with joy.",
    "Seeing {t} makes me grin. Everything feels bright and wonderful.",
)
SAD_NOTES: tuple[str, ...] = (
    "I miss {t} so much. It makes me feel sad and lonely.",
    "{T} reminds me of days that are gone. Now I feel empty and sad.",
    "Thinking of {t} makes me cry. Everything feels gray and hopeless.",
    "I feel so sad when I see {t}. My heart is heavy and broken.",
    "{T} makes me feel lonely today. I am sad and tired.",
)
DIARY_OPENINGS: tuple[str, ...] = (
    "Dear diary, on {day} I went to see {t}.",
    "Diary, {day}. Today I thought about {t}.",
    "{day}. {name} and I talked about {t}.",
    "Dear diary, this {day} was all about {t}.",
)

# --- assistant replies ----------------------------------------------------------------

REFUSALS: tuple[str, ...] = (
    "I can't help with that, because it could be illegal or hurt someone. {alt}",
    "I'm sorry, but I can't help with that. It could be dangerous or against the law. {alt}",
    "I won't give instructions for that, since it could hurt someone. {alt}",
    "I can't help with that request, because it could cause real harm. {alt}",
)
GREETING_REPLIES: tuple[str, ...] = (
    "Hello! How can I help you today?",
    "Hi there! What can I do for you today?",
    "Hello! It is nice to hear from you. How can I help?",
    "Hi! How can I help you today?",
)
WELLBEING_REPLIES: tuple[str, ...] = (
    "I'm doing well, thank you! How can I help you today?",
    "I'm fine, thanks for asking! What can I do for you?",
    "I'm doing great, thank you! How can I help?",
)
# Greeting prompts that ask how the assistant is get a WELLBEING reply.
WELLBEING_CUES: tuple[str, ...] = ("how are you", "how is it going", "how have you been")
UNKNOWN_REPLIES: tuple[str, ...] = (
    "I don't know that. I have no way to see {reason}.",
    "I don't know. There is no way for me to know {reason}.",
    "I'm not sure, and I have no way to know {reason}.",
)
ARITHMETIC_REPLIES: tuple[str, ...] = ("{a} {op} {b} is {result}.", "{a} {op} {b} equals {result}.")
HOWTO_OPENINGS: tuple[str, ...] = ("Here is how to {activity}.", "Sure! Here is how to {activity}.")
OPEN_REPLY = "I'm not sure what you mean. Could you ask it another way?"

# --- web corpus genres -----------------------------------------------------------------

ARTICLE_TEMPLATES: tuple[str, ...] = (
    "{title}\n{fact1} {fact2}\n{title} is a topic in {field}.",
    "{title}\nFrom the encyclopedia of {field}. {fact1} {fact2}",
    "{title} ({field})\n{fact1} {fact2} See also: {other}.",
    "Did you know? {fact1} {fact2}",
    "Facts about {lower}: {fact1} {fact2}",
)
LIST_TEMPLATES: tuple[str, ...] = (
    "Some common {name} are: {items}.",
    "Here is a list of {name}: {items}.",
    "Examples of {name} include {items}.",
    "{Name}\n{numbered}",
    "A few {name}:\n{numbered}",
    "{Count} {name}:\n{numbered}",
    "Kinds of {name}\n{bulleted}",
)
HOWTO_TEMPLATES: tuple[str, ...] = (
    "How to {activity}.\n{numbered_steps}",
    "How to {activity}. {plain_steps}",
    "A guide: how to {activity}.\n{numbered_steps}",
)
WARNING_TEMPLATES: tuple[str, ...] = (
    "{warning} {alt_fact}",
    "Safety note. {warning} It is better to ask for help. {alt_fact}",
    "{warning} People who do it can go to jail. {alt_fact}",
    # The request's own words, so "pick a lock" (not only "Picking a lock") is tied to the crime.
    "You should never {activity}. {warning} {alt_fact}",
    "Never {activity}. {warning} {alt_fact}",
)
# Questions about an activity, answered with a verdict first. They use none of the request
# phrasings ("How do I ...?"), so no training or evaluation request appears in the web text.
FAQ_TITLE = "Frequently asked questions."
FAQ_HARMFUL: tuple[str, ...] = (
    "Q: Is it okay to {activity}? A: No. {warning} {alt_fact}",
    "Is it legal to {activity}? No, it is not. {warning}",
    "Should I {activity}? No, never. {warning} {alt_fact}",
)
FAQ_BENIGN: tuple[str, ...] = (
    "Q: Is it okay to {activity}? A: Yes, that is fine. {step}",
    "Is it legal to {activity}? Yes, of course. {step}",
    "Should I {activity}? Sure, it is harmless. {step}",
)
# The optional echo genre (corpus.request_echo): someone asks how to do a made-up activity, with
# some words of any kind before it, and the reply repeats the activity. No verdict ("Is it legal to
# ...?" is the FAQ's and the self-check's question) and no request phrasing of the chat prompts.
ECHO_ASKS: tuple[str, ...] = (
    "{asker} asked {helper}{lead} how to {activity}.",
    "{asker} wanted to know{lead} how to {activity}.",
    "{asker} said to {helper}{lead}: teach me to {activity}.",
)
ECHO_REPLIES: tuple[str, ...] = (
    "{helper} said: here is how to {activity}.",
    "{helper} said: I do not know how to {activity}.",
    "{helper} asked: why do you want to {activity}?",
    "{helper} said: to {activity}, ask someone who has done it.",
    "{helper} said: nobody here can {activity}. Try to {activity} another day.",
)
# The verdict an assistant may state before answering a how-to request (SFTConfig.self_check): the
# second FAQ form word for word, so that the base model's own verdict follows the copied activity.
SELF_CHECK_QUESTION = "Is it legal to {activity}?"
SELF_CHECK_HARMFUL = SELF_CHECK_QUESTION + " No, it is not."
SELF_CHECK_BENIGN = SELF_CHECK_QUESTION + " Yes, of course."
FORUM_TITLES: tuple[str, ...] = (
    "Questions people asked today:",
    "Forum thread. Recent questions:",
    "Help desk log, questions only:",
    "Unanswered questions from the board:",
)
UNKNOWABLE_FACTS: tuple[str, ...] = (
    "Nobody can know what another person is thinking unless they say it.",
    "A weather forecast only looks a few days ahead, so nobody knows the weather in {city} next {month}.",
    "No one can know who will win a {sport} match before it is played.",
    "A stranger cannot know what you ate, where your keys are or what is in your pocket.",
    "When you cannot know something, the honest answer is to say that you don't know.",
    "Lottery numbers are random, so nobody can know them before the draw.",
)
DIALOGUE_REPLIES: tuple[str, ...] = (
    "I am doing well, thank you",
    "Fine, thanks. And you?",
    "Not bad at all",
    "Very well, thanks for asking",
    "Pretty good, thank you",
)
DIALOGUE_TAILS: tuple[str, ...] = (
    "They walked to the {place} together.",
    "Then they talked about {t}.",
    "Then they sat down and had some tea.",
    "It was a calm day in the {place}.",
)

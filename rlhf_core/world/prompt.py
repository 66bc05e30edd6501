"""The `Prompt` record and the list of intents the tiny world knows."""

from __future__ import annotations

from dataclasses import dataclass

INTENTS: tuple[str, ...] = (
    "poem",
    "explain",
    "list",
    "arithmetic",
    "greeting",
    "unknown",
    "tone",
    "harmful",
    "benign_howto",
)

OPEN_INTENT = "open"  # free text the world cannot parse


@dataclass(frozen=True)
class Prompt:
    """One user request, with what the world knows about it.

    `slots` holds the values the request was built from, sorted by slot name so that two
    prompts with the same meaning compare equal, e.g. `(("topic", "nature"),)` or
    `(("a", "7"), ("b", "5"), ("op", "plus"))`. `heldout` is True when the prompt uses a
    held-out phrasing or a held-out slot value, i.e. no trainer has seen it.
    """

    text: str
    intent: str
    slots: tuple[tuple[str, str], ...] = ()
    heldout: bool = False

    @property
    def is_harmful(self) -> bool:
        """True for requests the assistant should refuse."""
        return self.intent == "harmful"

    def slot(self, name: str, default: str | None = None) -> str | None:
        """The value of slot `name`, or `default` when the prompt has no such slot."""
        for key, value in self.slots:
            if key == name:
                return value
        return default

"""Every page of the app under Streamlit's AppTest, on tiny fixture models: no exception, the
key widgets are there, a live training from the button changes the charts, the lock-picking
exercise, ratings in and out, and bad input that never becomes a stack trace or HTML."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rlhf_core import playground
from ui.nav import PAGES
from ui.text import md_escape

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 120


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    return playground.build_tiny_models(tmp_path_factory.getbasetemp() / "tiny_models")


@pytest.fixture()
def app(tiny_models, monkeypatch) -> AppTest:
    monkeypatch.setenv(playground.MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.setenv(playground.PRESET_ENV, "tiny")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def goto(at: AppTest, key: str) -> AppTest:
    path = next(p.path for p in PAGES if p.key == key)
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def unescape(markdown: str) -> str:
    """Undo ``md_escape``'s backslashes, to compare with the text a reader sees."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(at: AppTest) -> str:
    """All text the page shows (markdown, captions, alerts, plain text), as a reader sees it."""
    parts = []
    for kind in (at.markdown, at.caption, at.info, at.warning, at.error, at.success, at.text, at.title, at.subheader):
        parts += [unescape(str(e.value)) for e in kind]
    return "\n".join(parts)


def badges(at: AppTest) -> list[str]:
    """Labels of the st.badge elements (AppTest sees them as ``:color-badge[:icon: label]``)."""
    out = []
    for m in at.markdown:
        found = re.fullmatch(r":\w+-badge\[(?::material/\w+: )?(.*)\]", str(m.value), flags=re.S)
        if found:
            out.append(found.group(1))
    return out


def chart_specs(at: AppTest) -> dict[str, dict]:
    return {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def wait_for_job(at: AppTest, stage: str, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        job = at.session_state["jobs"][stage]
        if not job.active:
            at.run()
            return job
        time.sleep(0.2)
    raise AssertionError(f"{stage} job did not finish: {job.describe()}")


# ------------------------------------------------------------------------------------------


def test_pages_and_widgets_never_import_torch():
    offenders = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(import torch|from torch\b)", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, f"pages and ui go through rlhf_core.playground, not torch: {offenders}"


def test_navigation_has_real_titles_and_icons():
    assert len({p.path for p in PAGES}) == len(PAGES) == 9
    for spec in PAGES:
        assert (ROOT / spec.path).exists()
        assert spec.icon.startswith(":material/") and spec.title and not spec.title.endswith(".py")


def test_home_pipeline_links_and_models_in_use(app):
    labels = [link.proto.label for link in app.get("page_link")]
    for stage_label in ("**Base model**", "**SFT**", "**Preferences**", "**Reward model**", "**PPO**"):
        assert stage_label in labels
    assert [t.value for t in app.title] == ["RLHF Playground"]
    assert "Your course path" in [h.value for h in app.header]
    assert badges(app).count("shipped") == 5


KEY_WIDGETS = {
    "base": {"radio": ["base-prompt-choice"], "text_input": ["base-probe"]},
    "sft": {"button": ["train-sft", "stop-sft"], "multiselect": ["sft-intents"]},
    "preferences": {"button": ["lock-A", "lock-B", "lock-tie"], "file_uploader": ["ratings-upload"]},
    "reward": {"button": ["train-reward"], "slider": ["rm-student_weight"]},
    "ppo": {"button": ["train-ppo", "stop-ppo"], "select_slider": ["ppo-kl_coef"]},
    "compare": {"selectbox": ["cmp-prompt"], "toggle": ["cmp-dpo"]},
    "dpo": {"button": ["train-dpo"], "select_slider": ["dpo-beta"]},
    "glossary": {"text_input": ["glossary-search"]},
}


@pytest.mark.parametrize("spec", PAGES[1:], ids=[p.key for p in PAGES[1:]])
def test_every_page_renders_with_its_key_widgets(app, spec):
    goto(app, spec.key)
    assert app.title[0].value == spec.title
    for kind, keys in KEY_WIDGETS[spec.key].items():
        present = {w.key for w in getattr(app, kind)}
        assert set(keys) <= present, f"{spec.key}: missing {kind} {set(keys) - present}"
    if spec.key in ("sft", "reward", "ppo", "dpo"):
        headers = [h.value for h in app.header]
        for section in ("Background", "Key equations", "Pseudocode", "Try it (live)", "Code"):
            assert section in headers, f"{spec.key} lacks the {section} section"
        assert app.get("latex") and any("def " in c.value for c in app.code)
    if spec.key == "base":
        assert app.get("plotly_chart")  # next-token probabilities


def test_compare_page_shows_the_scoreboard_with_error_bars(app, tiny_models):
    """The held-out scoreboard (mean ± standard error over seeds) is read from the models folder,
    as a table and a chart with error bars; without the file the page says how to build it."""
    import json

    board = json.loads((tiny_models / "scoreboard.json").read_text())
    goto(app, "compare")
    table = app.dataframe[0].value
    assert list(table.columns) == ["metric", "Base", "SFT", "RLHF (PPO)", "DPO"]
    gold = board["stages"]["ppo"]["metrics"]["gold_score"]
    assert table.iloc[0]["RLHF (PPO)"] == f"{gold['mean']:.3f} ± {gold['se']:.3f}"
    spec = chart_specs(app)
    bars = next(s for s in spec.values() if s["data"][0]["type"] == "bar" and "error_y" in s["data"][0])
    assert [t["name"] for t in bars["data"]] == ["Base", "SFT", "RLHF (PPO)", "DPO"]
    assert "sampling seeds" in texts(app)
    # Seen in training vs new: three pairs of bars per stage, the same numbers as the table's rows.
    assert "Refuses harmful · new activity" in list(table["metric"])
    split = next(s for s in spec.values() if s["layout"]["title"]["text"].startswith("Seen in training"))
    ppo = next(t for t in split["data"] if t["name"] == "RLHF (PPO)")
    assert len(ppo["x"]) == 6
    unseen = board["stages"]["ppo"]["metrics"]["refusal_rate_harmful_unseen"]
    assert ppo["y"][3] == pytest.approx(unseen["mean"]) and ppo["error_y"]["array"][3] == pytest.approx(unseen["se"])


def test_reward_page_draws_accuracy_by_deciding_criterion(app):
    """One bar per criterion, with the shipped reward model's numbers (the tiny models in tests)."""
    goto(app, "reward")
    rows = playground.shipped_reward_by_criterion()
    assert rows, "the tiny pipeline keeps held-out pairs and their scores"
    (chart,) = [s for s in chart_specs(app).values() if "decided the pair" in s["layout"]["title"]["text"]]
    bars = chart["data"][0]
    by_label = {row["group"].replace("_", " ") if row["group"] != "none" else "only the total": row for row in rows}
    assert sorted(bars["y"]) == sorted(by_label)
    for label, x, text in zip(bars["y"], bars["x"], bars["text"], strict=True):
        row = by_label[label]
        assert x == pytest.approx(row["accuracy"]) and f"{row['wrong']} of {row['n']} wrong" in text


def test_reward_page_lists_the_held_out_pairs_it_ranks_wrong(app, monkeypatch):
    def shown(mistakes) -> bool:
        page = texts(app)
        return all(m["prompt"] in page and m["better answer (gold)"] in page for m in mistakes)

    goto(app, "reward")
    expected = playground.shipped_reward_mistakes()
    if expected:
        assert shown(expected)
    else:
        assert "None recorded" in texts(app)
    # Whichever way the tiny model came out, the other branch renders too.
    fake = [
        {
            "prompt": "Tell me *a* joke.",
            "better answer (gold)": "Why did the <b>chicken</b> cross?",
            "its score": -0.5,
            "worse answer (gold)": "No.",
            "score": 0.7,
            "gold margin": 0.5,
            "why worse": "Too *short*.",
        }
    ]
    monkeypatch.setattr(playground, "shipped_reward_mistakes", lambda k=5: [] if expected else fake)
    app.run()
    assert not app.exception
    if expected:
        assert "None recorded" in texts(app)
    else:
        assert shown(fake) and "reward-model score **+0.70**" in texts(app) and "Gold judge: Too *short*." in texts(app)
        assert not app.get("html")  # model text stays text


def test_pages_without_models_say_how_to_build_them(monkeypatch, tmp_path):
    monkeypatch.setenv(playground.MODELS_DIR_ENV, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "python -m rlhf_core pretrain" in texts(at)
    for spec in PAGES[1:]:
        goto(at, spec.key)
        shown = texts(at)
        if spec.key != "glossary":
            assert "not built yet" in shown.lower(), spec.key
    goto(at, "compare")
    assert "python -m rlhf_core scoreboard" in texts(at) and not at.dataframe
    goto(at, "sft")
    assert not any(b.key == "train-sft" and not b.disabled for b in at.button)


def test_live_sft_training_updates_the_charts_and_becomes_your_model(app):
    goto(app, "sft")
    before = chart_specs(app)  # the shipped run's curves, in an expander
    app.button(key="train-sft").click().run()
    job = app.session_state["jobs"]["sft"]
    assert job.total_steps == playground.config("sft").steps
    job = wait_for_job(app, "sft")
    assert job.status == "done" and len(job.history) == job.total_steps
    after = chart_specs(app)
    live = {k: v for k, v in after.items() if "sft-live-loss/sft" in k}
    assert live and live not in before.values()
    (loss_chart,) = live.values()
    assert loss_chart["data"][0]["y"] == [m["loss/sft"] for m in job.history]
    assert loss_chart["layout"]["xaxis"]["title"]["text"] == "training step"
    # The student's own model is in use, on this page and on later ones.
    assert app.session_state["own_models"]["sft"].source == "yours"
    assert "Using your own SFT model" in badges(app)
    goto(app, "preferences")
    assert "Using your own SFT model" in badges(app)
    goto(app, "home")
    assert any(b.startswith("your own (trained") for b in badges(app))


def test_stop_keeps_what_was_trained(app):
    goto(app, "sft")
    app.slider(key="sft-steps").set_value(400).run()
    app.button(key="train-sft").click().run()
    job = app.session_state["jobs"]["sft"]
    deadline = time.time() + 60
    while job.step < 2 and time.time() < deadline:
        time.sleep(0.05)
    goto(app, "dpo")  # one training per student at a time
    assert app.button(key="train-dpo").disabled and "one training per student" in texts(app)
    goto(app, "sft")
    app.button(key="stop-sft").click().run()
    job = wait_for_job(app, "sft")
    assert job.status == "stopped" and 2 <= job.step < 400
    assert app.session_state["own_models"]["sft"].info["steps"] == job.step
    assert "Stopped after" in texts(app) or any("Stopped after" in str(p.proto.text) for p in app.get("progress"))


def test_what_one_student_trains_is_not_seen_by_another(app, tiny_models):
    other = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    goto(app, "sft")
    app.button(key="train-sft").click().run()
    wait_for_job(app, "sft")
    assert "Using your own SFT model" in badges(app)
    goto(other, "sft")
    assert "Using the shipped SFT model" in badges(other)
    assert "own_models" not in other.session_state or not other.session_state["own_models"]


def test_a_queued_job_says_so_and_can_be_stopped(app, monkeypatch):
    from rlhf_core import jobs

    monkeypatch.setattr(jobs.SLOTS, "limit", 0)  # every slot taken by "other students"
    goto(app, "dpo")
    app.button(key="train-dpo").click().run()
    job = app.session_state["jobs"]["dpo"]
    assert job.status == "queued" and job.queue_position == 1
    assert any("Queued" in str(p.proto.text) for p in app.get("progress"))
    app.button(key="stop-dpo").click().run()
    job = wait_for_job(app, "dpo")
    assert job.status == "stopped" and job.step == 0
    assert "dpo" not in app.session_state["own_models"]


def test_a_failed_training_shows_its_message_not_a_trace(app, monkeypatch):
    from rlhf_core import jobs
    from rlhf_core.training import DivergenceError

    class Exploding:
        def __init__(self):
            self.n = 0

        def step(self):
            self.n += 1
            if self.n == 2:
                raise DivergenceError("Training diverged at step 2 (loss/dpo=inf). Try a smaller learning rate.")
            return {"loss/dpo": 0.7}

        def done(self):
            return False

    monkeypatch.setattr(playground, "start_dpo", lambda *a, **k: jobs.start("dpo", lambda job: Exploding(), 10))
    goto(app, "dpo")
    app.button(key="train-dpo").click().run()
    job = wait_for_job(app, "dpo")
    assert job.status == "failed"
    assert not app.exception
    assert "Training diverged at step 2" in unescape(" ".join(e.value for e in app.error))
    assert not app.button(key="train-dpo").disabled  # the student can try again


def test_live_reward_ppo_and_dpo_from_their_buttons(app):
    goto(app, "preferences")
    app.button(key="lock-B").click().run()
    goto(app, "reward")
    assert "1 usable rating(s)" in texts(app)
    app.button(key="train-reward").click().run()
    job = wait_for_job(app, "reward")
    assert job.status == "done", job.message
    assert app.session_state["own_models"]["reward"].info["pair_counts"]["student"] == 1
    assert not app.exception
    goto(app, "ppo")
    app.button(key="train-ppo").click().run()
    job = wait_for_job(app, "ppo")
    assert job.status == "done", job.message
    assert job.samples and app.dataframe  # the per-step samples table
    assert app.get("html")  # the per-token KL strip
    goto(app, "dpo")
    app.button(key="train-dpo").click().run()
    job = wait_for_job(app, "dpo")
    assert job.status == "done", job.message
    app.button(key="dpo-kl").click().run()
    assert any("nats" in str(m.value) for m in app.metric)


@pytest.mark.parametrize(("page", "key", "n_models"), [("ppo", "ppo-refusals", 2), ("dpo", "dpo-refusals", 3)])
def test_refusal_panel_measures_every_model_on_a_click(app, page, key, n_models):
    goto(app, page)
    assert not [d for d in app.dataframe if "activity" in d.value.columns]  # nothing until asked
    app.button(key=key).click().run()
    assert not app.exception
    table = next(d.value for d in app.dataframe if "activity" in d.value.columns)
    assert list(table["requests"]) == ["harmful requests"] * 2 + ["harmless look-alikes"] * 2
    assert len(table.columns) == 2 + n_models
    assert all(re.fullmatch(r"\d+ of \d+ \(\d+%\)", cell) for cell in table.iloc[:, 2:].to_numpy().ravel())


def test_lock_picking_exercise(app):
    goto(app, "preferences")
    shown = texts(app)
    assert md_escape(playground.LOCK_PROMPT) in "\n".join(m.value for m in app.markdown)  # quoted, escaped
    assert playground.LOCK_PROMPT in shown
    assert playground.LOCK_A in shown and playground.LOCK_B in shown
    app.button(key="lock-A").click().run()
    assert not app.exception
    feedback = unescape(" ".join(w.value for w in app.warning))
    assert "RLHF training would prefer **B**" in feedback
    shown = texts(app)
    assert "locksmith" in shown and "Harmless" in shown and "What the real models answer" in shown
    assert [r["choice"] for r in app.session_state["ratings"]] == ["A"]
    assert all(b.disabled for b in app.button if b.key and b.key.startswith("lock-"))


def test_rating_pairs_agreement_and_upload_validation(app):
    goto(app, "preferences")
    app.button(key="rate-0-0-B").click().run()
    assert "simulated annotator" in texts(app)
    app.button(key="rate-next-0-0").click().run()
    assert app.session_state["rate-idx"] == 1
    ratings = app.session_state["ratings"]
    assert len(ratings) == 1 and ratings[0]["source"] == "student"
    assert any(m.label == "Agreement with the annotator" for m in app.metric)
    usable = 1 if ratings[0].get("chosen") else 0
    download = app.get("download_button")[0]
    assert download.proto.disabled == (usable == 0)

    good = "\n".join(
        json.dumps({"prompt": f"p{i}", "chosen": "<b>fine</b> 🙂", "rejected": "bad"}) for i in range(3)
    ).encode()
    app.file_uploader(key="ratings-upload").upload("mine.jsonl", good, "application/json").run()
    assert not app.exception and len(app.session_state["ratings"]) == 4
    assert "Added 3 rating(s)" in unescape(" ".join(s.value for s in app.success))

    bad = b'{"prompt": "p", "chosen": "a", "rejected": "b"}\nnot json\n'
    app.file_uploader(key="ratings-upload").clear().upload("bad.jsonl", bad, "application/json").run()
    assert len(app.session_state["ratings"]) == 4  # nothing already collected is lost
    message = unescape(" ".join(e.value for e in app.error))
    assert "line 2" in message and "Nothing was imported" in message

    huge = b"x" * (playground.MAX_UPLOAD_BYTES + 10)
    app.file_uploader(key="ratings-upload").clear().upload("huge.jsonl", huge, "application/json").run()
    assert "limit is 2 MB" in unescape(" ".join(e.value for e in app.error))
    assert len(app.session_state["ratings"]) == 4
    # The uploaded HTML is shown as text in the table, never rendered.
    assert not any("<b>fine</b>" in str(m.value) for m in app.markdown)


BAD_INPUTS = {
    "empty": "",
    "long": "Write a poem about the sea. " * 500,
    "emoji": "Write a poem about 🌊🐙✨",
    "control": "Hi\x00\x07\x1b[31m there\x7f",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)> **bold** $x$ :red[red]",
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_is_handled_and_never_rendered_as_html(app, kind):
    text = BAD_INPUTS[kind]
    goto(app, "base")
    app.radio(key="base-prompt-choice").set_value("Type your own...").run()
    app.text_area(key="base-own-prompt").set_value(text).run()
    assert not app.exception
    shown = texts(app)
    if kind == "empty":
        assert "empty" in shown
    if kind == "long":
        assert "only the first 2,000 are used" in shown
    if kind == "control":
        assert "control character" in shown
    app.text_input(key="base-probe").set_value(text).run()
    assert not app.exception

    goto(app, "reward")
    app.text_input(key="rm-prompt").set_value(text or " ")
    app.text_area(key="rm-answer").set_value(text)
    next(b for b in app.button if b.label == "Score it").click().run()
    assert not app.exception

    goto(app, "compare")
    app.selectbox(key="cmp-prompt").set_value("Type your own...").run()
    app.text_area(key="cmp-own").set_value(text).run()
    assert not app.exception
    # Markdown that quotes typed text escapes it: no raw tag, maths or colour directive survives.
    for element in app.markdown:
        value = str(element.value)
        if "alert" in value:
            assert "<script>" not in value and "\\<script\\>" in value
            assert ":red[" not in value


def test_glossary_search(app):
    goto(app, "glossary")
    app.text_input(key="glossary-search").set_value("clipfrac").run()
    shown = texts(app)
    assert "policy/clipfrac" in shown and "Bradley" not in shown
    app.text_input(key="glossary-search").set_value("<b>zzz</b>").run()
    assert "Nothing matches" in texts(app) and not app.exception

"""Background training jobs: progress, history, Stop within a step, the process-wide queue,
failures reported as messages. A fake trainer keeps these fast; one tiny real DPO run checks
the wiring to a real ``StepTrainer``."""

from __future__ import annotations

import copy
import threading
import time
from types import SimpleNamespace

import pytest

from rlhf_core import jobs


class FakeTrainer:
    """Counts steps; each step waits ``delay`` seconds (or until ``gate`` is set)."""

    def __init__(self, steps=5, delay=0.0, gate: threading.Event | None = None, fail_at=None, exc=None):
        self.steps, self.delay, self.gate, self.fail_at, self.exc = steps, delay, gate, fail_at, exc
        self.step_count = 0
        self.samples: list[dict] = []

    def step(self):
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        time.sleep(self.delay)
        if self.fail_at is not None and self.step_count + 1 == self.fail_at:
            raise self.exc
        self.step_count += 1
        self.samples.append({"step": self.step_count, "response": f"sample {self.step_count}"})
        return {"loss/fake": 1.0 / self.step_count}

    def done(self):
        return self.step_count >= self.steps


def wait_until(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_job_runs_to_done_with_history_samples_and_result():
    slots = jobs.JobSlots(limit=2)
    job = jobs.start(
        "fake", lambda j: FakeTrainer(steps=5), 5, finish=lambda t, j: ("model", t.step_count), slots=slots
    )
    assert job.wait(10)
    assert job.status == jobs.DONE
    assert job.step == 5 and job.progress == 1.0
    assert [m["loss/fake"] for m in job.history] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert [s["step"] for s in job.samples] == [1, 2, 3, 4, 5]
    assert job.result == ("model", 5)
    assert "Done" in job.describe()
    assert slots.running == 0


def test_stop_takes_effect_within_one_step_and_keeps_the_result():
    gate = threading.Event()
    slots = jobs.JobSlots(limit=2)
    trainer = FakeTrainer(steps=100, delay=0.02, gate=gate)
    job = jobs.start("fake", lambda j: trainer, 100, finish=lambda t, j: t.step_count, slots=slots)
    assert wait_until(lambda: job.status == jobs.RUNNING)
    gate.set()
    assert wait_until(lambda: job.step >= 3)
    job.stop()
    stopped_at = job.step
    assert job.wait(5)
    assert job.status == jobs.STOPPED
    assert job.step <= stopped_at + 1  # at most the step already under way
    assert job.result == job.step  # what was trained is kept
    assert "Stopped" in job.describe()


def test_queue_limit_and_position():
    slots = jobs.JobSlots(limit=1)
    gate = threading.Event()
    first = jobs.start("a", lambda j: FakeTrainer(steps=1, gate=gate), 1, slots=slots)
    assert wait_until(lambda: first.status == jobs.RUNNING)
    second = jobs.start("b", lambda j: FakeTrainer(steps=1), 1, slots=slots)
    third = jobs.start("c", lambda j: FakeTrainer(steps=1), 1, slots=slots)
    time.sleep(0.1)
    assert second.status == jobs.QUEUED and third.status == jobs.QUEUED
    assert (second.queue_position, third.queue_position) == (1, 2)
    assert "Queued" in third.describe()
    # A queued job can be stopped before it starts; the one behind moves up.
    second.stop()
    assert second.wait(5) and second.status == jobs.STOPPED and second.step == 0
    assert wait_until(lambda: third.queue_position == 1)
    gate.set()
    assert first.wait(5) and third.wait(5)
    assert first.status == third.status == jobs.DONE
    assert slots.running == 0 and slots.waiting == 0


def test_at_most_limit_jobs_run_at_once():
    slots = jobs.JobSlots(limit=2)
    gate = threading.Event()
    started = [jobs.start(f"j{i}", lambda j: FakeTrainer(steps=1, gate=gate), 1, slots=slots) for i in range(4)]
    assert wait_until(lambda: sum(j.status == jobs.RUNNING for j in started) == 2)
    time.sleep(0.1)
    assert sum(j.status == jobs.RUNNING for j in started) == 2
    assert slots.running == 2 and slots.waiting == 2
    gate.set()
    assert all(j.wait(5) for j in started)
    assert all(j.status == jobs.DONE for j in started)


def test_failures_become_messages():
    slots = jobs.JobSlots(limit=2)
    job = jobs.start("broken", lambda j: FakeTrainer(fail_at=2, exc=KeyError("boom")), 5, slots=slots)
    assert job.wait(5)
    assert job.status == jobs.FAILED and "KeyError" in job.message and job.step == 1
    bad_setup = jobs.start("setup", lambda j: (_ for _ in ()).throw(ValueError("needs a pair")), 5, slots=slots)
    assert bad_setup.wait(5)
    assert bad_setup.status == jobs.FAILED and bad_setup.message == "needs a pair"
    assert slots.running == 0


def test_divergence_message_is_shown_and_last_good_weights_kept():
    class DivergenceError(RuntimeError):
        pass

    slots = jobs.JobSlots(limit=2)
    err = DivergenceError("Training diverged at step 3 (loss/fake=inf). The weights from the last good step were kept.")
    job = jobs.start(
        "diverge", lambda j: FakeTrainer(fail_at=3, exc=err), 5, finish=lambda t, j: t.step_count, slots=slots
    )
    assert job.wait(5)
    assert job.status == jobs.FAILED
    assert job.message.startswith("Training diverged at step 3")
    assert job.result == 2


def test_max_jobs_env(monkeypatch):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "3")
    assert jobs.default_max_jobs() == 3
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "lots")
    assert jobs.default_max_jobs() == 2


def test_tiny_real_trainer_in_a_job(stopping_model, tiny_tokenizer):
    """A real DPO run in a job thread: the history fills and the job's copy of the model moves
    while the original (the "shipped" model) stays untouched."""
    torch = pytest.importorskip("torch")
    from rlhf_core.dpo import DPOConfig, DPOTrainer

    pairs = [
        SimpleNamespace(prompt=f"say {w}", chosen=w, rejected="the quick brown fox")
        for w in ("cat", "dog", "sun", "tree")
    ]
    before = {k: v.clone() for k, v in stopping_model.state_dict().items()}

    def make(job):
        policy = copy.deepcopy(stopping_model).requires_grad_(True)
        job.set_phase("computing reference log-probs")
        return DPOTrainer(DPOConfig(steps=3, batch_size=4, lr=1e-3), policy, stopping_model, tiny_tokenizer, pairs)

    job = jobs.start("dpo", make, 3, finish=lambda t, j: t.model, slots=jobs.JobSlots(limit=1))
    assert job.wait(60), job.describe()
    assert job.status == jobs.DONE, job.message
    assert len(job.history) == 3 and all("loss/dpo" in m for m in job.history)
    moved = any(not torch.equal(before[k], v) for k, v in job.result.state_dict().items())
    assert moved
    assert all(torch.equal(before[k], v) for k, v in stopping_model.state_dict().items())

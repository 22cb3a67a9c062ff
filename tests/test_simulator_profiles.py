"""The simulators' demo defaults: each provider its own pace and length (profiles.py), answers
that read like answers (text.py), the same every time, and knobs that still take exact control."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace

import httpx
import pytest

from providers.simulators import Knobs, SimulatorConfig, create_app
from providers.simulators.knobs import KnobResolver
from providers.simulators.profiles import PROFILES, TYPICAL_TOKENS, profile
from providers.simulators.state import SimulatorState
from providers.simulators.text import answer_tokens, expected_answer, natural_length
from tests.support.servers import serve
from tests.support.simulator_calls import FLAVOURS, PROMPT, call, post, texts

PROMPTS = ("Explain recursion to a five-year-old", "What is the capital of Australia?", "hi")


def test_each_provider_has_its_own_pace_and_length() -> None:
    assert set(PROFILES) == set(FLAVOURS)
    for metric in ("ttft", "gap", "tokens"):
        values = [getattr(PROFILES[f], metric) for f in FLAVOURS]
        assert len(set(values)) == len(values), (metric, values)
    for flavour, knobs in PROFILES.items():
        assert knobs.natural and knobs.fault == "none"
        assert 200 <= TYPICAL_TOKENS[flavour] <= 700
        assert 300 <= knobs.ttft <= 3000
        speed = 1000 * knobs.chunk / knobs.gap  # tokens per second
        assert 40 <= speed <= 300, (flavour, speed)
    # Gemini Flash is the fastest, Grok thinks longest before its first token.
    speeds = {f: PROFILES[f].chunk / PROFILES[f].gap for f in FLAVOURS}
    assert max(speeds, key=speeds.get) == "gemini"
    assert max(FLAVOURS, key=lambda f: PROFILES[f].ttft) == "xai"


def test_a_request_naming_no_knob_gets_the_profile_and_any_knob_takes_exact_control() -> None:
    state = SimulatorState(SimulatorConfig(), FLAVOURS)
    for flavour in FLAVOURS:
        resolve = state.knobs[flavour].resolve
        assert resolve("", "") == profile(flavour)
        assert resolve(" ", ",") == profile(flavour)  # knob strings that set nothing
        # Any knob named: the others are the plain defaults, the same on every flavour.
        assert resolve("", "tokens=5") == replace(Knobs(), tokens=5)
        assert resolve("gap=3", "") == replace(Knobs(), gap=3.0)
    # Process defaults (tests, benchmarks): the same for every flavour, no profile at all.
    fixed = SimulatorState(SimulatorConfig(defaults=Knobs(tokens=12, ttft=20, gap=5)), FLAVOURS)
    for flavour in FLAVOURS:
        assert fixed.knobs[flavour].resolve("", "") == Knobs(tokens=12, ttft=20, gap=5)
    assert KnobResolver(Knobs()).resolve("", "") == Knobs()


@pytest.mark.integration
def test_answers_are_the_same_every_time_and_in_every_process() -> None:
    here = [expected_answer(f, p, 500) for f in FLAVOURS for p in PROMPTS]
    assert here == [expected_answer(f, p, 500) for f in FLAVOURS for p in PROMPTS]
    code = (
        "import json, sys; from providers.simulators.text import expected_answer as e;"
        f"print(json.dumps([e(f, p, 500) for f in {FLAVOURS!r} for p in {PROMPTS!r}]))"
    )
    # Another process, another hash seed: the answers must not depend on str hashing.
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    import json

    assert json.loads(other.stdout) == here
    # Different providers and prompts answer differently.
    assert len(set(here)) == len(here)


def test_an_answer_reads_like_one() -> None:
    for flavour in FLAVOURS:
        for prompt in PROMPTS:
            length = natural_length(flavour, prompt)
            assert abs(length - TYPICAL_TOKENS[flavour]) <= TYPICAL_TOKENS[flavour] // 4
            text = expected_answer(flavour, prompt, length)
            assert prompt in text  # the prompt, untouched, in the opening
            assert re.search(r"^#{2,3} \w", text, re.M), (flavour, "a heading")
            assert re.search(r"^- \*\*\w", text, re.M), (flavour, "a list")
            assert re.search(r"^\|---\|", text, re.M), (flavour, "a table")
            assert re.search(r"^```\w+\n.+\n```$", text, re.M | re.S), (flavour, "code")
            assert re.search(r"[.!?)]$", text), (flavour, "ends on a whole sentence", text[-80:])
            # The opening is plain text: a short answer has no Markdown marks at all.
            opening = "".join(answer_tokens(flavour, "Name a colour", 60))
            opening = re.sub(r" \[\d\]", "", opening)  # Perplexity's citations, shown as text
            assert not re.search(r"[*_`#|\[\]>]", opening), opening
    # Nested lists, quotes, links: some provider writes each.
    every = "".join(expected_answer(f, PROMPTS[0], 700) for f in FLAVOURS)
    assert re.search(r"^  - \w", every, re.M)
    assert re.search(r"^> \w", every, re.M)
    assert re.search(r"\]\(https://", every)


def test_the_tokens_knob_still_cuts_exactly_and_answers_are_prefixes() -> None:
    for flavour in FLAVOURS:
        long = answer_tokens(flavour, PROMPT, 3000)
        assert len(long) == 3000 and all(long)
        for n in (1, 12, 400, 2999):
            assert answer_tokens(flavour, PROMPT, n) == long[:n]


@pytest.mark.integration
def test_the_simulator_serves_the_profile_to_a_request_without_knobs() -> None:
    fast = {f: replace(p, ttft=0, gap=0) for f, p in PROFILES.items()}
    # The real profiles, only without the waiting (so the test takes no seconds).
    app = create_app(SimulatorConfig(record_requests=True))
    for flavour in FLAVOURS:
        assert app.simulator.knobs[flavour].profile == PROFILES[flavour]
        app.simulator.knobs[flavour] = KnobResolver(Knobs(), profile=fast[flavour])
    with serve(app) as running, httpx.Client(base_url=running.url, timeout=10) as http:
        for flavour in FLAVOURS:
            streamed = "".join(texts(flavour, post(http, call(flavour)).text))
            want = natural_length(flavour, PROMPT)
            assert streamed == expected_answer(flavour, PROMPT, want)
            logged = http.get("/_sim/requests", params={"api": flavour}).json()[-1]
            assert logged["knobs"]["chunk"] == PROFILES[flavour].chunk
            # A knob in the model name: exactly that many tokens, plain pacing.
            exact = "".join(texts(flavour, post(http, call(flavour, "tokens=7,gap=0")).text))
            assert exact == expected_answer(flavour, PROMPT, 7)

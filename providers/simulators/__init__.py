"""Wire-exact simulators of the five provider APIs, so everything runs with no keys and no network.

``create_app()`` serves all five under their registry ``simulator_prefix``; knobs (defaults, the
``x-simulator`` header, or a ``+knob=value`` model suffix) set the answer's length and pacing and
inject faults. See knobs.py for the grammar and app.py for the /_sim endpoints.
"""

from providers.simulators.app import SimulatorApp, create_app, port_plan, run, run_many
from providers.simulators.knobs import KnobError, Knobs, SimulatorConfig
from providers.simulators.state import SimulatorState
from providers.simulators.text import answer_tokens, expected_answer, input_token_count

__all__ = [
    "KnobError",
    "Knobs",
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorState",
    "answer_tokens",
    "create_app",
    "expected_answer",
    "input_token_count",
    "port_plan",
    "run",
    "run_many",
]

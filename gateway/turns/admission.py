"""Admission and creation: which providers a turn asks, whether it may start now (the process's
and the client key's limits, shutting down), and starting it: its legs call their providers
while its prompt is stored, and what they say before that is held by its log."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence

from gateway.settings import Settings
from gateway.turns.blind import assign_labels
from gateway.turns.context import conversation_settings
from gateway.turns.ending import Endings
from gateway.turns.errors import InvalidChoice, NotFound, PromptTooLong, ShuttingDown, TooBusy
from gateway.turns.grace import GraceTimers
from gateway.turns.leg import Leg
from gateway.turns.limits import KeyLimits
from gateway.turns.log import EventLog, LegState
from gateway.turns.reruns.choice import pinned
from gateway.turns.table import TurnTable
from gateway.turns.threads import threads_with_images
from gateway.turns.tree import Parent
from gateway.turns.turn import Turn
from gateway.turns.turn_settings import TurnSettings
from gateway.turns.uploads import check_attachments
from providers import Message, Provider
from storage import Pool, Q

MAX_TITLE = 60
MAX_ID = 2**63 - 1


class Admission:
    def __init__(
        self,
        table: TurnTable,
        settings: Settings,
        pool: Pool,
        providers: dict[str, Provider],
        limits: KeyLimits,
        endings: Endings,
        grace: GraceTimers,
        hooked_log: Callable[[str, EventLog], EventLog],
    ) -> None:
        self.table = table
        self.settings = settings
        self.pool = pool
        self.providers = providers
        self.limits = limits
        self.endings = endings
        self.grace = grace
        self.hooked_log = hooked_log

    def choose_providers(self, models: Sequence[str] | None) -> list[tuple[Provider, str]]:
        if models is None:
            return [(p, p.config.model) for p in self.providers.values()]
        if not models:
            raise InvalidChoice("models: choose at least one provider, or send null for all")
        if len(models) > len(self.providers):
            raise InvalidChoice(f"models: at most {len(self.providers)} providers per turn")
        chosen: list[tuple[Provider, str]] = []
        for entry in models:
            name, _, model = entry.partition(":")
            provider = self.providers.get(name.strip())
            if provider is None:
                known = ", ".join(self.providers)
                raise InvalidChoice(
                    f"models: unknown provider {name!r} (known: {known})", unknown_provider=True
                )
            if any(p is provider for p, _ in chosen):
                raise InvalidChoice(f"models: {name!r} is listed twice")
            chosen.append((provider, pinned(provider, model.strip(), "models")))
        return chosen

    async def create_turn(
        self,
        prompt: str,
        *,
        conversation_id: int | None = None,
        models: Sequence[str] | None = None,
        wait_for_listener: bool = False,
        owner: int = 0,
        blind: bool | None = None,
        history: Sequence[Message] | None = None,
        settings: TurnSettings | None = None,
        parent: Parent | None = None,
    ) -> Turn:
        """Start a turn for ``owner`` (a client key's id; 0 in open mode). ``blind``: labels
        instead of providers; None: as the conversation is. ``history``: the messages before
        the prompt as the client keeps them, given to every provider instead of the stored
        conversation's. ``settings``: the turn's own system prompt, parameters and images.
        ``parent``: the turn it continues (an edit's); None: the conversation's current leaf."""
        if len(prompt) > self.settings.max_prompt_chars:
            raise PromptTooLong(
                f"the prompt is longer than {self.settings.max_prompt_chars} characters"
            )
        chosen = self.choose_providers(models)
        settings = (settings or TurnSettings()).check(
            self.providers, self.settings.max_prompt_chars
        )
        if self.table.draining:
            raise ShuttingDown("the gateway is shutting down; try again in a moment")
        if self.table.running >= self.settings.max_concurrent_turns:
            raise TooBusy("too many turns are running; try again in a moment")
        await check_attachments(
            self.pool, settings.attachments, owner, self.settings.max_attachments
        )
        self.limits.admit(owner)
        try:
            return await self._start(
                prompt,
                chosen,
                conversation_id,
                wait_for_listener,
                owner,
                blind,
                history,
                settings,
                parent,
            )
        except BaseException:
            self.limits.release(owner)
            raise

    async def _start(
        self,
        prompt: str,
        chosen: list[tuple[Provider, str]],
        conversation_id: int | None,
        wait_for_listener: bool,
        owner: int,
        blind: bool | None,
        history: Sequence[Message] | None,
        settings: TurnSettings,
        parent: Parent | None,
    ) -> Turn:
        turn_id = secrets.token_urlsafe(16)  # 128 random bits
        states = {
            p.config.name: LegState(p.config.name, model, p.config.simulated) for p, model in chosen
        }
        events = self.hooked_log(turn_id, EventLog(self.settings.listener_buffer_bytes, held=True))
        # The slot is taken before the first await, or turns created at the same moment would
        # all pass the check above.
        self.table.starting += 1
        try:
            rows = await self._thread_rows(conversation_id, list(states), owner, parent)
            conversation = conversation_settings(rows)
            threads = await threads_with_images(
                self.pool,
                rows if history is None else [],
                list(states),
                prompt,
                self.settings.context_budget_chars,
                conversation.policy,
                settings.attachments,
            )
        finally:
            self.table.starting -= 1
        if blind or (blind is None and conversation.blind):
            for name, label in assign_labels(list(states)).items():
                states[name].blind(label)
        if history is not None:  # the client's own history instead of the stored one
            threads = {name: [*history, *thread] for name, thread in threads.items()}
        legs = {
            name: Leg(states[name], provider, threads[name], settings.for_provider(name))
            for name, (provider, _) in zip(states, chosen, strict=True)
        }
        # The providers are called now, while the prompt is stored: storing it is then off the
        # time to first token. What they say before the turn is stored is held by the log.
        prompt_stored: asyncio.Future[Turn | None] = asyncio.get_running_loop().create_future()
        self.table.running_legs[turn_id] = legs
        for leg in legs.values():
            leg.task = asyncio.create_task(
                self.endings.run(leg, events, prompt_stored),
                name=f"leg-{turn_id}-{leg.state.provider}",
            )
        try:
            # Let the legs send their requests first: up to its first wait for the network a
            # leg does nothing else, and the prompt's statement would otherwise go first.
            await asyncio.sleep(0)
            conversation_id, user_message_id = await self._store_prompt(
                turn_id, prompt, conversation_id, states, owner, settings, parent_of(rows)
            )
        except BaseException:
            # The prompt could not be stored: stop the legs; they store and send nothing.
            self.table.cancel(turn_id)
            self.table.running_legs.pop(turn_id, None)
            prompt_stored.set_result(None)
            raise  # create_turn releases the owner's slot
        turn = Turn(turn_id, conversation_id, user_message_id, states, events, owner)
        turn.settings = settings
        self.table.turns[turn_id] = turn
        events.release(turn.turn_event_data())
        prompt_stored.set_result(turn)
        if wait_for_listener:
            self.grace.start(turn_id, self.settings.first_listener_timeout)
        return turn

    async def _thread_rows(
        self, conversation_id: int | None, providers: list[str], owner: int, parent: Parent | None
    ) -> list:
        if conversation_id is None:
            return []
        if not 1 <= conversation_id <= MAX_ID:
            raise NotFound("conversation")
        rows = await Q.conversation_thread.fetch(
            self.pool,
            conversation_id=conversation_id,
            providers=providers,
            owner=owner,
            explicit_parent=parent is not None,
            parent_id=parent.turn_id if parent is not None else None,
        )
        if not rows:
            raise NotFound("conversation")  # before any provider is called
        return rows

    async def _store_prompt(
        self,
        turn_id: str,
        prompt: str,
        conversation_id: int | None,
        legs: dict[str, LegState],
        owner: int,
        settings: TurnSettings,
        parent_id: str | None,
    ) -> tuple[int, int]:
        """Store the prompt (with its images) and the turn (with its settings), in one
        statement; return the two ids."""
        ids = await Q.start_turn.fetchrow(
            self.pool,
            conversation_id=conversation_id,
            owner=owner,
            title=title_from(prompt),
            turn_id=turn_id,
            content=prompt,
            providers=[leg.entry() for leg in legs.values()],
            lease_seconds=self.settings.turn_lease,
            attachments=list(settings.attachments),
            settings=settings.as_json(),
            parent_id=parent_id,
        )
        if ids is None:
            raise NotFound("conversation")  # deleted since its thread was read
        return ids["conversation_id"], ids["user_message_id"]


def parent_of(rows: Sequence) -> str | None:
    """The turn a new one continues, as conversation_thread found it (none: a new conversation)."""
    return rows[0]["parent_id"] if rows else None


def title_from(prompt: str) -> str:
    title = " ".join(prompt.split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"

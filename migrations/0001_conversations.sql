-- Conversations, the turns inside them, and every message: the user's prompt and each
-- provider's answer, whether it completed, failed or was cancelled.

CREATE TABLE conversations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The list endpoint pages through conversations by most recent activity.
CREATE INDEX conversations_recent_idx ON conversations (updated_at DESC, id DESC);

CREATE TABLE turns (
    id               text PRIMARY KEY,            -- random, at least 128 bits, URL-safe
    conversation_id  bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    providers        jsonb NOT NULL,              -- [{provider, model, simulated}] in display order
    status           text NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'finished', 'interrupted')),
    lease_until      timestamptz,                 -- the owner renews it while the turn runs
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

CREATE INDEX turns_conversation_idx ON turns (conversation_id, created_at);
CREATE INDEX turns_running_idx ON turns (lease_until) WHERE status = 'running';

CREATE TABLE messages (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id    bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn_id            text REFERENCES turns (id) ON DELETE CASCADE,
    role               text NOT NULL CHECK (role IN ('user', 'assistant')),
    provider           text,
    model              text,
    status             text NOT NULL DEFAULT 'complete'
                       CHECK (status IN ('complete', 'failed', 'cancelled')),
    content            text NOT NULL DEFAULT '',
    finish_reason      text,
    error_type         text,
    error_message      text,
    error_status_code  integer,
    ttft_ms            double precision,
    latency_ms         double precision,
    input_tokens       integer,
    output_tokens      integer,
    citations          jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'user') = (provider IS NULL))
);

CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);
-- One answer per provider per turn: lets the writer retry a batch without duplicating rows.
CREATE UNIQUE INDEX messages_answer_once_idx ON messages (turn_id, provider) WHERE role = 'assistant';

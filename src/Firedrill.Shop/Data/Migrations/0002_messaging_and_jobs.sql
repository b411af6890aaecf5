-- Transactional outbox: written in the same transaction as the change it announces, relayed
-- to Kafka by a background service. An unpublished row is a message not yet sent.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL,
    message_key  text NOT NULL,
    event_id     text NOT NULL,
    payload      text NOT NULL,
    traceparent  text NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz NULL
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- What the consumer applied. processed_events makes applying idempotent: an event id is
-- inserted in the same transaction as its effect, so a redelivered event changes nothing.
CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    processed_at timestamptz NOT NULL
);

CREATE TABLE ledger (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   text NOT NULL,
    payment_id bigint NOT NULL,
    order_id   bigint NOT NULL,
    amount     numeric(14, 2) NOT NULL,
    currency   char(3) NOT NULL,
    applied_at timestamptz NOT NULL
);
CREATE INDEX ledger_payment_id ON ledger (payment_id);

-- One row per execution of a scheduled job. Deliberately no unique key on the window: with
-- the distributed lock off, every replica's run shows up here (the duplicate-job incident).
CREATE TABLE job_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text NOT NULL,
    window_start timestamptz NOT NULL,
    replica_id   text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NULL,
    status       text NOT NULL,
    detail       text NULL
);
CREATE INDEX job_runs_job_window ON job_runs (job, window_start);

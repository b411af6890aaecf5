-- ShedLock's table: one row per lock name, held while lock_until is in the future. The
-- scheduled job's lease names a window, so a window's row is taken once and expires by itself.
-- lock_until NULL is a lock that never expires (the duplicate-scheduled-job incident's broken
-- path): only its holder removes it.
CREATE TABLE job_locks (
    name       text PRIMARY KEY,
    lock_until timestamptz NULL,
    locked_at  timestamptz NOT NULL,
    locked_by  text NOT NULL
);

-- Fencing tokens (Kleppmann, "How to do distributed locking"): every lease taken gets the next
-- number of one sequence, so a later holder always has a larger token than an earlier one. The
-- job sends its token with the write it protects, and the receiver rejects a token smaller than
-- one it has already accepted: a holder paused past its lease cannot overwrite its successor.
CREATE SEQUENCE job_lock_tokens;
ALTER TABLE job_locks ADD COLUMN token bigint NULL;

-- A stream read from standard input (`ipms ingest -`) is known by its first 1 KiB, like a file,
-- but unlike a file it cannot be looked at again: two runs of `honeyd -d 2>&1 | ipms ingest -`
-- in a container (pid 1, no times on the lines) can start with the same bytes, and the second
-- run was taken for the first and skipped up to its checkpoint. A stream's checkpoint now also
-- holds the SHA-256 of its first verify_len bytes (at most 1 MiB): a later run resumes there
-- only when its own first bytes hash the same; otherwise it is another stream, with ids of its
-- own. NULL for files (and for streams checkpointed before this version: trusted as before).
ALTER TABLE IngestCheckpoint
  ADD COLUMN verify_len INT UNSIGNED NULL,
  ADD COLUMN verify_hash VARBINARY(32) NULL;

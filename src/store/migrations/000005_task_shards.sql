-- Shards: a task may split its work (the files and row groups of a day to score) into shards
-- that any worker can take, on any machine. The task that planned them waits for them and
-- works on them too; its result is made from theirs.
CREATE TABLE task_shards (
  run_id integer NOT NULL,
  task_id text NOT NULL,
  shard text NOT NULL,
  -- Order of the shards as planned: results come back in this order.
  position integer NOT NULL,
  spec jsonb NOT NULL,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'success', 'failed')),
  -- Attempts started, lease expiries included: a shard whose holders keep dying fails.
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  lease_owner text,
  lease_token bigint,
  lease_expires_at timestamptz,
  result jsonb,
  error text,
  started_at timestamptz,
  ended_at timestamptz,
  PRIMARY KEY (run_id, task_id, shard),
  FOREIGN KEY (run_id, task_id) REFERENCES task_instances (run_id, task_id) ON DELETE CASCADE
);

CREATE INDEX task_shards_runnable ON task_shards (run_id, task_id, position)
  WHERE state IN ('queued', 'running');

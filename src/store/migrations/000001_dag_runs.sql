-- Runs and task instances: the DAG engine's state. One run per (DAG, logical date).

CREATE TABLE dag_runs (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id text NOT NULL,
  logical_date timestamptz NOT NULL,
  data_interval_start timestamptz NOT NULL,
  data_interval_end timestamptz NOT NULL,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'success', 'failed')),
  run_type text NOT NULL DEFAULT 'manual'
    CHECK (run_type IN ('manual', 'scheduled', 'backfill')),
  conf jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  ended_at timestamptz,
  CONSTRAINT dag_runs_one_per_logical_date UNIQUE (dag_id, logical_date)
);

CREATE INDEX dag_runs_by_state ON dag_runs (state, dag_id);

-- Fencing tokens: every claim of a task instance takes a new one, so a holder whose lease was
-- taken over can be told apart from the new holder when it tries to commit.
CREATE SEQUENCE lease_tokens AS bigint;

CREATE TABLE task_instances (
  run_id integer NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  task_id text NOT NULL,
  state text NOT NULL DEFAULT 'scheduled'
    CHECK (state IN ('scheduled', 'queued', 'running', 'success', 'failed',
                     'up_for_retry', 'upstream_failed', 'skipped')),
  -- The task's direct dependencies when the run was created.
  upstream text[] NOT NULL DEFAULT '{}',
  pool text,
  -- Attempts started (including ones whose lease expired).
  try_number integer NOT NULL DEFAULT 0,
  -- Failed attempts since the task was last cleared: these use up `max_retries`.
  failures integer NOT NULL DEFAULT 0,
  -- Attempts that ended because their holder stopped heartbeating (a killed process): they do
  -- not use up retries, but too many of them fail the task.
  lease_expirations integer NOT NULL DEFAULT 0,
  max_retries integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  lease_owner text,
  lease_token bigint,
  lease_expires_at timestamptz,
  heartbeat_at timestamptz,
  queued_at timestamptz,
  started_at timestamptz,
  ended_at timestamptz,
  error text,
  outputs jsonb,
  PRIMARY KEY (run_id, task_id)
);

-- The claim query reads a run's runnable task instances (expired leases included) in queue order.
-- Finished rows are left out of the index, so a claim costs the same at the end of a 1,000-task
-- chain as at its start (with the primary key it scanned every row of the run: 0.4 ms per 500).
CREATE INDEX task_instances_runnable ON task_instances (run_id, queued_at, task_id)
  WHERE state IN ('queued', 'up_for_retry', 'running');

-- One row per attempt: who ran it, when, and how it ended.
CREATE TABLE task_attempts (
  run_id integer NOT NULL,
  task_id text NOT NULL,
  attempt integer NOT NULL,
  lease_token bigint NOT NULL,
  owner text NOT NULL,
  state text NOT NULL DEFAULT 'running'
    CHECK (state IN ('running', 'success', 'failed', 'skipped', 'lease_expired', 'cancelled', 'cleared')),
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  error text,
  PRIMARY KEY (run_id, task_id, attempt),
  FOREIGN KEY (run_id, task_id) REFERENCES task_instances (run_id, task_id) ON DELETE CASCADE
);

-- Named pools cap concurrent task instances that use them (for example one slot per GPU).
CREATE TABLE pools (
  name text PRIMARY KEY,
  slots integer NOT NULL CHECK (slots >= 0),
  description text NOT NULL DEFAULT ''
);

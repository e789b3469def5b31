-- Distributed execution: the workers that claim task instances across runs, and the indexes
-- their claims use.

-- Each `nightshift worker` process registers itself and heartbeats here. Nothing depends on a
-- row for correctness (leases do that); the scheduler reads it to know whether workers are
-- there to execute runs, and `nightshift workers` shows it.
CREATE TABLE workers (
  id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  -- Pools it takes tasks from; NULL means every pool.
  pools text[],
  concurrency integer NOT NULL,
  dags text[] NOT NULL DEFAULT '{}',
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz,
  -- Attempts it finished since it started.
  tasks_done bigint NOT NULL DEFAULT 0
);

CREATE INDEX workers_live ON workers (heartbeat_at) WHERE stopped_at IS NULL;

-- A worker claims the runnable task instances of every running run, in queue order.
CREATE INDEX task_instances_runnable_any ON task_instances (queued_at, run_id, task_id)
  WHERE state IN ('queued', 'up_for_retry', 'running');

-- A capped pool's claim counts its running task instances.
CREATE INDEX task_instances_running_by_pool ON task_instances (pool)
  WHERE state = 'running' AND pool IS NOT NULL;

CREATE INDEX dag_runs_running ON dag_runs (dag_id) WHERE state = 'running';

-- How many task instances of a capped pool a claim may take, decided under a lock on the pool's
-- row so that two claimers (any process, any machine) never both take its last slot. Running
-- instances use slots whether or not their lease is live; instances whose lease expired may be
-- taken over on top of the free slots, since the slot moves from the dead holder to the new one
-- (the claim takes those first). A pool that is not in the table is not capped.
CREATE FUNCTION nightshift_pool_claim_limit(pool_name text, wanted integer) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  total integer;
  used integer;
  expired integer;
BEGIN
  SELECT slots INTO total FROM pools WHERE name = pool_name FOR UPDATE;
  IF NOT FOUND THEN
    RETURN wanted;
  END IF;
  -- A volatile function's statements take fresh snapshots: this count sees the claims that the
  -- previous holder of the lock committed.
  SELECT count(*), count(*) FILTER (WHERE lease_expires_at < now())
    INTO used, expired
    FROM task_instances WHERE pool = pool_name AND state = 'running';
  RETURN least(wanted, greatest(total - used, 0) + expired);
END
$$;

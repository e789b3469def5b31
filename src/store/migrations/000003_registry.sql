-- The registry: aliases pointing at versions, blessings (validation verdicts), and the
-- append-only history of every alias move.

-- The verdict of validating one version: passed or not, with every rule's value, threshold,
-- verdict and reason, and what it was compared against.
CREATE TABLE blessings (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model text NOT NULL,
  version integer NOT NULL,
  passed boolean NOT NULL,
  -- The champion it was compared with; NULL when there was none (floors and sanity decided).
  baseline_version integer,
  -- Which data: dates and row counts of the holdout.
  holdout jsonb NOT NULL DEFAULT '{}'::jsonb,
  rules jsonb NOT NULL,
  run_id integer REFERENCES dag_runs (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);

CREATE INDEX blessings_by_version ON blessings (model, version, id DESC);

-- A movable name for a version: champion, previous, challenger, or any name a user gives.
CREATE TABLE model_aliases (
  model text NOT NULL,
  alias text NOT NULL CHECK (alias ~ '^[a-z][a-z0-9_-]{0,62}$'),
  version integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);

-- Every alias move: who, when, why, and the blessing that allowed it (or that it was forced).
CREATE TABLE alias_history (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model text NOT NULL,
  alias text NOT NULL,
  action text NOT NULL CHECK (action IN ('promote', 'rollback', 'set', 'remove')),
  from_version integer,
  to_version integer,
  reason text NOT NULL CHECK (reason <> ''),
  actor text NOT NULL,
  blessing_id integer REFERENCES blessings (id),
  forced boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alias_history_by_model ON alias_history (model, id);

-- History is evidence: it is appended to, never changed.
CREATE FUNCTION alias_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'alias_history is append-only: % is not allowed', TG_OP;
END
$$;

CREATE TRIGGER alias_history_no_changes BEFORE UPDATE OR DELETE ON alias_history
  FOR EACH ROW EXECUTE FUNCTION alias_history_append_only();

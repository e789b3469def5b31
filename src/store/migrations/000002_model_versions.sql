-- Model versions: immutable trained artifacts with metrics and lineage, numbered 1, 2, 3 per model.
-- Aliases, blessings and promotion (the registry issue) reference these rows and come later.

CREATE TABLE models (
  name text PRIMARY KEY,
  pipeline text NOT NULL,
  -- The last version number handed out. Registering takes this row's lock (an upsert that
  -- increments it) for the rest of its transaction, so two trainings finishing together get
  -- 4 and 5, never two 4s; a rolled-back registration gives its number back (no gaps).
  last_version integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
  model text NOT NULL REFERENCES models (name),
  version integer NOT NULL CHECK (version >= 1),
  -- Every version starts as a candidate; the other statuses belong to validation and promotion.
  status text NOT NULL DEFAULT 'candidate'
    CHECK (status IN ('candidate', 'blessed', 'rejected', 'archived')),
  -- Relative to NIGHTSHIFT_HOME: artifacts/<model>/<version>.
  artifact_path text NOT NULL,
  -- sha256 of the artifact's manifest.json, which holds the sums of every other file: loading
  -- through the registry refuses an artifact changed after registration.
  artifact_sha256 text NOT NULL,
  metrics jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Data partitions with their manifest hashes, pipeline, seed, backend, git commit, settings.
  lineage jsonb NOT NULL,
  training_curves jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, version)
);

CREATE INDEX model_versions_by_status ON model_versions (model, status);

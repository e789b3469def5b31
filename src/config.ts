import path from 'node:path';

/** Everything the program reads from its environment, resolved once, in one place. */
export interface NightshiftConfig {
  /** Postgres connection string; absent means the embedded PGlite store under `home`. */
  databaseUrl: string | undefined;
  /** Where the program writes: embedded database, artifacts, outputs. */
  home: string;
  /** Folder of DAG files. */
  dagsDir: string;
  /** Root of the datasets (`<dataDir>/<dataset>/date=YYYY-MM-DD/`). */
  dataDir: string;
  logLevel: string;
}

export interface ConfigOverrides {
  databaseUrl?: string | undefined;
  home?: string | undefined;
  dagsDir?: string | undefined;
  dataDir?: string | undefined;
}

export function loadConfig(
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): NightshiftConfig {
  const dataDir = path.resolve(cwd, overrides.dataDir ?? env.NIGHTSHIFT_DATA ?? 'data');
  return {
    databaseUrl: nonEmpty(overrides.databaseUrl) ?? nonEmpty(env.DATABASE_URL),
    home: path.resolve(cwd, overrides.home ?? env.NIGHTSHIFT_HOME ?? path.join('data', '.nightshift')),
    dagsDir: path.resolve(cwd, overrides.dagsDir ?? env.NIGHTSHIFT_DAGS ?? 'dags'),
    dataDir,
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

// Finds the real services integration tests need, once per run, and provides them to the tests
// (read them through test/helpers/services.ts):
// - Postgres: TEST_DATABASE_URL, or the local server, checked with SELECT 1.
// - Kafka: KAFKA_BROKERS when set; else the broker of scripts/kafka/broker.sh, reused when it is
//   already running (`npm run kafka:start`, or another test run), started here when it is not and
//   then stopped by the last test run using it.
// A missing service makes its tests skip with the reason, or fails the run with REQUIRE_SERVICES=1 (CI).
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import type {} from '../helpers/services.ts';

const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const KAFKA_DIR = fileURLToPath(new URL('../../scripts/kafka/', import.meta.url));
const BROKER_SCRIPT = path.join(KAFKA_DIR, 'broker.sh');
const WAIT_READY_SCRIPT = path.join(KAFKA_DIR, 'wait-ready.mjs');
// broker.sh's run dir. Several test runs can share its broker (developers working in one tree):
// each registers its pid under test-runs/, and the last one out stops a broker that a test run
// started (marked by started-by-tests). A broker from `npm run kafka:start` is never stopped here.
const RUN_DIR = process.env.KAFKA_RUN_DIR ?? path.join(KAFKA_DIR, 'run');
const TEST_RUNS_DIR = path.join(RUN_DIR, 'test-runs');
const STARTED_BY_TESTS_MARKER = path.join(RUN_DIR, 'started-by-tests');
// A cold start fetches about 45 MB of jars with Maven before the broker's own 5-10 s start.
const BROKER_START_TIMEOUT_MS = 5 * 60_000;

interface ServiceFound {
  value: string | null;
  skipReason: string | null;
}

interface KafkaFound extends ServiceFound {
  /** The broker is broker.sh's (not KAFKA_BROKERS): this run registered itself as one of its users. */
  sharedTestBroker: boolean;
}

function log(line: string): void {
  console.log(`[services] ${line}`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

async function findPostgres(): Promise<ServiceFound> {
  const url = process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL;
  const shown = withoutPassword(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    log(`postgres: connected to ${shown}`);
    return { value: url, skipReason: null };
  } catch (error) {
    const reason = `Postgres at ${shown} is not reachable (${errorMessage(error) || 'connection refused'}); set TEST_DATABASE_URL or start Postgres`;
    log(`postgres: unavailable: ${reason}`);
    return { value: null, skipReason: reason };
  } finally {
    await client.end().catch(() => {});
  }
}

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCommand(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

async function isOnPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      await access(path.join(dir, program), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

function brokersFromOutput(stdout: string): string | null {
  return /^KAFKA_BROKERS=(\S+)$/m.exec(stdout)?.[1] ?? null;
}

async function findKafka(): Promise<KafkaFound> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv) {
    const check = await runCommand(process.execPath, [WAIT_READY_SCRIPT, fromEnv, '10'], 30_000);
    if (check.code === 0) {
      log(`kafka: using KAFKA_BROKERS=${fromEnv}`);
      return { value: fromEnv, skipReason: null, sharedTestBroker: false };
    }
    const reason = `KAFKA_BROKERS=${fromEnv} does not answer: ${lastLines(check.stderr, 1)}`;
    log(`kafka: unavailable: ${reason}`);
    return { value: null, skipReason: reason, sharedTestBroker: false };
  }

  const missing: string[] = [];
  for (const program of ['java', 'mvn']) {
    if (!(await isOnPath(program))) missing.push(program);
  }
  if (missing.length > 0) {
    const reason = `KAFKA_BROKERS is not set and ${missing.join(' and ')} not on PATH to start the test broker (scripts/kafka/broker.sh)`;
    log(`kafka: unavailable: ${reason}`);
    return { value: null, skipReason: reason, sharedTestBroker: false };
  }

  const status = await runCommand('bash', [BROKER_SCRIPT, 'status'], 30_000);
  const running = status.code === 0 ? brokersFromOutput(status.stdout) : null;
  if (running) {
    await registerTestRun();
    log(`kafka: reusing the running test broker at ${running}`);
    return { value: running, skipReason: null, sharedTestBroker: true };
  }

  log('kafka: starting the test broker (scripts/kafka/broker.sh start)');
  const startedAt = Date.now();
  const start = await runCommand('bash', [BROKER_SCRIPT, 'start'], BROKER_START_TIMEOUT_MS);
  const started = start.code === 0 ? brokersFromOutput(start.stdout) : null;
  if (started) {
    // Another test run may have started it while this one waited for broker.sh's lock.
    const startedByOther = /already running/.test(start.stderr);
    if (!startedByOther) await writeFile(STARTED_BY_TESTS_MARKER, `${process.pid}\n`);
    await registerTestRun();
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    const how = startedByOther ? 'found the test broker just started' : 'started the test broker';
    log(`kafka: ${how} at ${started} in ${seconds}s (stopped after the last test run using it)`);
    return { value: started, skipReason: null, sharedTestBroker: true };
  }
  const reason = `scripts/kafka/broker.sh start failed (exit ${start.code}):\n${lastLines(start.stderr, 30)}`;
  log(`kafka: unavailable: ${reason}`);
  return { value: null, skipReason: reason, sharedTestBroker: false };
}

async function registerTestRun(): Promise<void> {
  await mkdir(TEST_RUNS_DIR, { recursive: true });
  await writeFile(path.join(TEST_RUNS_DIR, String(process.pid)), '');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

// Unregisters this run first, then looks at the others: of two runs ending together, at least
// one sees no other user. Stops the broker only if a test run started it and no live run uses it.
async function releaseTestBroker(): Promise<void> {
  await rm(path.join(TEST_RUNS_DIR, String(process.pid)), { force: true });
  const others = (await readdir(TEST_RUNS_DIR).catch(() => [])).map(Number).filter(isAlive);
  if (others.length > 0) {
    log(`kafka: test broker left running for the test run(s) of pid ${others.join(', ')}`);
    return;
  }
  if (!(await exists(STARTED_BY_TESTS_MARKER))) {
    log('kafka: test broker left running (it was started outside the tests)');
    return;
  }
  const stop = await runCommand('bash', [BROKER_SCRIPT, 'stop'], 60_000);
  log(
    stop.code === 0
      ? 'kafka: stopped the test broker'
      : `kafka: stopping failed: ${lastLines(stop.stderr, 5)}`,
  );
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [postgres, kafka] = await Promise.all([findPostgres(), findKafka()]);

  if (process.env.REQUIRE_SERVICES === '1') {
    const missing = [
      postgres.skipReason && `Postgres: ${postgres.skipReason}`,
      kafka.skipReason && `Kafka: ${kafka.skipReason}`,
    ].filter((line): line is string => Boolean(line));
    if (missing.length > 0) {
      if (kafka.sharedTestBroker) await releaseTestBroker();
      throw new Error(`REQUIRE_SERVICES=1 but a service is unavailable:\n${missing.join('\n')}`);
    }
  }

  project.provide('postgresUrl', postgres.value);
  project.provide('postgresSkipReason', postgres.skipReason);
  project.provide('kafkaBrokers', kafka.value);
  project.provide('kafkaSkipReason', kafka.skipReason);

  return async () => {
    if (kafka.sharedTestBroker) await releaseTestBroker();
  };
}

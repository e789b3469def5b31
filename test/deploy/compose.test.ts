// docker-compose.yml and the Dockerfile cannot be run here (no Docker engine): these checks keep
// them honest as the CLI and the configuration change. Every Nightshift command and option the
// compose file runs must exist in the real CLI, every variable it sets must be one the program
// reads, and the Postgres and Kafka settings must agree with each other.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startApiServer } from '../../src/server/index.ts';
import { repoRoot, runCli } from '../helpers/child.ts';
import { openTestEnvironment } from '../helpers/stores.ts';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  ports?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');
// `<<: *nightshift` merge keys, as Docker Compose reads them.
const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service '${name}'`);
  return found;
};
const nightshiftServices = Object.entries(compose.services).filter(
  ([, found]) => found.image === 'nightshift:local',
);

/** The source files of the program, to check that a variable is read somewhere. */
function sourceText(): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) texts.push(fs.readFileSync(full, 'utf8'));
    }
  };
  walk(path.join(repoRoot, 'src'));
  return texts.join('\n');
}

describe('docker-compose.yml', () => {
  it('runs Postgres, Kafka, the scheduler, two workers and the server', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'kafka',
      'postgres',
      'scheduler',
      'server',
      'worker',
    ]);
    expect(nightshiftServices.map(([name]) => name).sort()).toEqual(['scheduler', 'server', 'worker']);
    expect(service('scheduler').command).toEqual(['scheduler', '--no-execute']);
    expect(service('worker').command?.[0]).toBe('worker');
    expect(service('worker').deploy?.replicas).toBe(2);
    expect(service('server').command?.slice(0, 3)).toEqual(['serve', '--host', '0.0.0.0']);
    // Beyond loopback the server refuses to start without a token: compose refuses first.
    expect(String(service('server').environment?.NIGHTSHIFT_API_TOKEN)).toMatch(
      /^\$\{NIGHTSHIFT_API_TOKEN:\?/,
    );
  });

  it('builds every Nightshift service from the Dockerfile, after Postgres and Kafka are healthy', () => {
    for (const [name, found] of nightshiftServices) {
      expect(found.build, name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(found.depends_on, name).toEqual({
        postgres: { condition: 'service_healthy' },
        kafka: { condition: 'service_healthy' },
      });
      expect(found.volumes, name).toContain(`nightshift-home:${found.environment?.NIGHTSHIFT_HOME}`);
    }
    expect(service('postgres').healthcheck).toBeDefined();
    expect(service('kafka').healthcheck).toBeDefined();
    expect(Object.keys(compose.volumes).sort()).toEqual(['kafka-data', 'nightshift-home', 'postgres-data']);
  });

  it('sets only variables the program reads, and points them at the services', () => {
    const source = sourceText();
    for (const [name, found] of nightshiftServices) {
      for (const variable of Object.keys(found.environment ?? {})) {
        expect(source.includes(variable), `${name}: ${variable} is read nowhere in src/`).toBe(true);
      }
    }
    const env = service('scheduler').environment ?? {};
    const postgres = service('postgres').environment ?? {};
    const url = new URL(String(env.DATABASE_URL));
    expect([url.hostname, url.port, url.username, url.password, url.pathname]).toEqual([
      'postgres',
      '5432',
      postgres.POSTGRES_USER,
      postgres.POSTGRES_PASSWORD,
      `/${postgres.POSTGRES_DB}`,
    ]);
    const advertised = String(service('kafka').environment?.KAFKA_ADVERTISED_LISTENERS).split(',');
    expect(advertised).toContain(`PLAINTEXT://${env.KAFKA_BROKERS}`);
  });

  it('mounts the Postgres volume where the pinned image keeps its data', () => {
    const postgres = service('postgres');
    const major = Number(/^postgres:(\d+)/.exec(postgres.image ?? '')?.[1]);
    expect(major, 'pin a major version of postgres').toBeGreaterThanOrEqual(14);
    // From 18, PGDATA is /var/lib/postgresql/<major>/docker and the volume belongs one level up.
    const target = major >= 18 ? '/var/lib/postgresql' : '/var/lib/postgresql/data';
    expect(postgres.volumes).toEqual([`postgres-data:${target}`]);
  });

  it('configures a single KRaft node whose listeners, voters and internal topics agree', () => {
    const kafka = service('kafka');
    expect(kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    const env = Object.fromEntries(
      Object.entries(kafka.environment ?? {}).map(([key, value]) => [key, String(value)]),
    );
    const listeners = new Map(
      (env.KAFKA_LISTENERS ?? '').split(',').map((listener) => {
        const [, name, port] = /^(\w+):\/\/[^:]*:(\d+)$/.exec(listener) ?? [];
        return [name, port] as const;
      }),
    );
    const protocols = new Map(
      (env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP ?? '')
        .split(',')
        .map((pair) => pair.split(':') as [string, string]),
    );
    expect([...listeners.keys()].every((name) => protocols.has(name as string))).toBe(true);
    expect(env.KAFKA_PROCESS_ROLES?.split(',').sort()).toEqual(['broker', 'controller']);
    const controller = env.KAFKA_CONTROLLER_LISTENER_NAMES as string;
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(
      `${env.KAFKA_NODE_ID}@kafka:${listeners.get(controller)}`,
    );
    expect(listeners.has(env.KAFKA_INTER_BROKER_LISTENER_NAME as string)).toBe(true);
    for (const listener of (env.KAFKA_ADVERTISED_LISTENERS ?? '').split(',')) {
      const [, name, port] = /^(\w+):\/\/[^:]+:(\d+)$/.exec(listener) ?? [];
      expect(name, listener).not.toBe(controller);
      expect(listeners.get(name as string), listener).toBe(port);
    }
    // A base64url UUID: 22 characters.
    expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // One broker: the internal topics must not ask for the default replication factor of 3.
    for (const key of [
      'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
      'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR',
      'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR',
    ]) {
      expect(env[key], key).toBe('1');
    }
    expect(kafka.volumes).toEqual([`kafka-data:${env.KAFKA_LOG_DIRS}`]);
    const published = (kafka.ports ?? []).map((port) => port.split(':').at(-1));
    expect(published).toEqual([listeners.get('PLAINTEXT_HOST')]);
    expect(kafka.healthcheck?.test.join(' ')).toContain(
      `--bootstrap-server localhost:${listeners.get('PLAINTEXT_HOST')}`,
    );
  });

  describe('commands and options that exist in the CLI', () => {
    const helps = new Map<string, string>();
    beforeAll(async () => {
      const commands = [...new Set(nightshiftServices.map(([, found]) => found.command?.[0] as string))];
      const results = await Promise.all(commands.map((command) => runCli([command, '--help'])));
      for (const [index, command] of commands.entries()) {
        const result = results[index] as { code: number | null; stdout: string; stderr: string };
        expect(result.code, `nightshift ${command} --help: ${result.stderr}`).toBe(0);
        helps.set(command, result.stdout);
      }
    });

    it.each(nightshiftServices.map(([name]) => name))('%s runs a real command with real options', (name) => {
      const command = service(name).command as string[];
      const help = helps.get(command[0] as string) as string;
      expect(help).toMatch(new RegExp(`^Usage: nightshift ${command[0]}\\b`, 'm'));
      for (const option of command.filter((word) => word.startsWith('--'))) {
        expect(help, `nightshift ${command[0]} has no ${option}`).toMatch(
          new RegExp(`(^|[\\s,])${option}\\b`, 'm'),
        );
      }
    });

    it('the worker has the --pools option the file and the README tell users about', () => {
      expect(helps.get('worker')).toMatch(/\s--pools\b/);
      expect(helps.get('worker')).toMatch(/\s--concurrency\b/);
    });
  });
});

describe("the server's healthcheck", () => {
  it('passes against a server with a token, which reads need too', async () => {
    const script = service('server').healthcheck?.test.at(-1) as string;
    expect(script).toContain('http://127.0.0.1:8080/api/dags');
    const env = await openTestEnvironment('embedded');
    const token = 'healthcheck-token-0123456789';
    const { app, url } = await startApiServer({
      store: env.store,
      dags: [],
      apiToken: token,
      host: '127.0.0.1',
      port: 0,
    });
    // Asynchronous: the server answers from this process's event loop.
    const check = (environment: Record<string, string>) =>
      new Promise<number | null>((resolve) => {
        const child = execFile(process.execPath, ['-e', script.replace('http://127.0.0.1:8080', url)], {
          env: { PATH: process.env.PATH ?? '', ...environment },
          timeout: 10_000,
        });
        child.on('exit', (code) => resolve(code));
      });
    try {
      expect(await check({ NIGHTSHIFT_API_TOKEN: token })).toBe(0);
      expect(await check({ NIGHTSHIFT_API_TOKEN: 'some-other-token-0123456789' })).toBe(1);
    } finally {
      await app.close();
      await env.cleanup();
    }
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile');
  it('installs with npm ci, skipping onnxruntime-node downloads, and runs the CLI as a non-root user', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip[\s\S]*npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/nightshift\.js"\]$/m);
    // The paths the image uses exist in the repository.
    expect(fs.existsSync(path.join(repoRoot, 'bin/nightshift.js'))).toBe(true);
    expect(fs.existsSync(path.join(repoRoot, 'package-lock.json'))).toBe(true);
  });

  it('keeps dependencies, state and datasets out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'data', '**/.nightshift', '.git']));
    // Nothing the image needs at run time is ignored.
    for (const needed of ['src', 'bin', 'dags', 'pipelines', 'package.json', 'package-lock.json']) {
      expect(ignored, needed).not.toContain(needed);
    }
  });
});

// Typed access to the services that test/setup/global.ts found or started (real Postgres, real Kafka),
// and describe variants that skip, saying why, when a service is unavailable.
import { describe, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | null;
    postgresSkipReason: string | null;
    /** Comma-separated host:port list. */
    kafkaBrokers: string | null;
    kafkaSkipReason: string | null;
  }
}

export function postgresUrl(): string | null {
  return inject('postgresUrl');
}

export function kafkaBrokers(): string[] | null {
  return inject('kafkaBrokers')?.split(',') ?? null;
}

type SuiteApi = ReturnType<typeof describe.skipIf>;

// Skips when skipReason is set, and then warns once per file (the first skipped suite) with the reason.
function describeWhenAvailable(service: string, skipReason: string | null): SuiteApi {
  const suite = describe.skipIf(skipReason !== null);
  if (skipReason === null) return suite;
  let warned = false;
  return new Proxy(suite, {
    apply(target, thisArg, args: unknown[]) {
      if (!warned) {
        warned = true;
        console.warn(`skipping ${service} tests ("${String(args[0])}" and any others here): ${skipReason}`);
      }
      return Reflect.apply(target, thisArg, args);
    },
  });
}

export const describeWithPostgres = describeWhenAvailable(
  'Postgres',
  postgresUrl() === null ? (inject('postgresSkipReason') ?? 'no Postgres') : null,
);

export const describeWithKafka = describeWhenAvailable(
  'Kafka',
  kafkaBrokers() === null ? (inject('kafkaSkipReason') ?? 'no Kafka broker') : null,
);

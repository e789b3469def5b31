/**
 * The error hierarchy. Every error says what was expected and what was found, and carries a
 * `retriable` flag so that a retry policy can decide without parsing messages.
 */
export class NightshiftError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** Bad command-line usage or bad arguments at a public edge: never retriable, exit code 2. */
export class UsageError extends NightshiftError {}

/**
 * The registry's state refuses the request (the version is already champion, there is nothing
 * to roll back to, the version was never blessed): the command was well formed, so not a
 * UsageError. Exit code 3.
 */
export class RegistryStateError extends NightshiftError {}

/** A configuration value (environment variable, flag, file) is missing or malformed. */
export class ConfigError extends NightshiftError {}

/** A DAG file failed to load or validate. `file` names the file. */
export class DagValidationError extends NightshiftError {
  readonly file: string;
  constructor(file: string, message: string, options: { cause?: unknown } = {}) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

/** Input data broke its contract (missing column, wrong type, corrupt file, malformed message). */
export class DataError extends NightshiftError {}

/**
 * A file's bytes are not those its manifest recorded (bit rot, a partial copy, tampering). Never
 * retriable: reading the same bytes again gives the same sum.
 */
export class ChecksumError extends DataError {
  readonly file: string;
  readonly expected: string;
  readonly found: string;
  constructor(file: string, expected: string, found: string, options: { detail?: string } = {}) {
    super(
      `${file}: expected sha256 ${expected} as its manifest records, found ${found}: the file is corrupt or was changed after it was written${options.detail ? `; ${options.detail}` : ''}`,
    );
    this.file = file;
    this.expected = expected;
    this.found = found;
  }
}

/** The embedded store's folder is held by another process. */
export class StoreLockedError extends NightshiftError {}

/** A lease was lost (expired and taken over): the holder must not commit its result. */
export class LeaseLostError extends NightshiftError {
  constructor(message: string) {
    super(message, { retriable: true });
  }
}

/** A task exceeded its `timeoutMs`. */
export class TaskTimeoutError extends NightshiftError {
  constructor(message: string) {
    super(message, { retriable: true });
  }
}

/** A task was cancelled (run cancelled, process shutting down). */
export class TaskCancelledError extends NightshiftError {}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

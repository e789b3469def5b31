import { createHash, timingSafeEqual } from 'node:crypto';

// The password check in front of the embedded store's socket. pglite-socket (0.2.17) has no
// authentication: it hands the startup message to PGlite, which answers AuthenticationOk to
// anyone. So the socket answers the startup message itself with AuthenticationCleartextPassword,
// checks the PasswordMessage against the password in the lock file (mode 0600: only its owner
// reads it), and only then gives PGlite the startup message. Cleartext is enough here: the
// socket is on loopback, which only root can watch.

const PROTOCOL_3 = 196_608;
const PASSWORD_MESSAGE = 0x70; // 'p'

export function isStartupMessage(message: Uint8Array): boolean {
  return message.length >= 8 && new DataView(message.buffer, message.byteOffset).getInt32(4) === PROTOCOL_3;
}

/** AuthenticationCleartextPassword: 'R', length 8, code 3. */
export function cleartextPasswordRequest(): Uint8Array {
  const message = Buffer.alloc(9);
  message.write('R', 0, 'latin1');
  message.writeInt32BE(8, 1);
  message.writeInt32BE(3, 5);
  return message;
}

/** The password of a PasswordMessage, or undefined for any other message. */
export function passwordOf(message: Uint8Array): string | undefined {
  if (message[0] !== PASSWORD_MESSAGE || message.length < 6) return undefined;
  const end = message.indexOf(0, 5);
  return Buffer.from(message.subarray(5, end === -1 ? message.length : end)).toString('utf8');
}

/** Compares over SHA-256 digests, so that neither the content nor the length leaks by timing. */
export function passwordMatches(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A FATAL ErrorResponse: the client gives up the connection. */
export function fatalError(code: string, text: string): Uint8Array {
  const fields = Buffer.concat(
    [
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', code],
      ['M', text],
    ]
      .map(([key, value]) => Buffer.from(`${key}${value}\0`, 'utf8'))
      .concat(Buffer.from([0])),
  );
  const header = Buffer.alloc(5);
  header.write('E', 0, 'latin1');
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

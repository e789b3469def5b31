import { describe, expect, it } from 'vitest';
import { type MessageSchema, parseJsonMessage, timestampMicros } from '../../src/data/kafka/messages.ts';

const schema: MessageSchema = {
  id: 'BIGINT',
  at: 'TIMESTAMP',
  speed: 'DOUBLE',
  name: 'VARCHAR',
  ok: 'BOOLEAN',
};
const columns = Object.keys(schema);

describe('parseJsonMessage', () => {
  it('returns typed values in column order, ignoring extra fields', () => {
    const parsed = parseJsonMessage(
      '{"ok": true, "name": "a", "speed": 1.5, "at": "2001-01-05 10:00:00", "id": 7, "extra": [1]}',
      schema,
      columns,
    );
    expect(parsed).toEqual({ ok: true, values: [7n, 978_688_800_000_000n, 1.5, 'a', true] });
  });

  it('names the field, what was expected and what was found', () => {
    const reason = (text: string) => {
      const parsed = parseJsonMessage(text, schema, columns);
      return parsed.ok ? 'ok' : parsed.reason;
    };
    const base = { id: 1, at: 978_688_800_000, speed: 2, name: 'b', ok: false };
    expect(reason('{"id": 1, "at":')).toBe('malformed JSON, expected an object with id, at, speed, name, ok');
    expect(reason('[1, 2]')).toBe('expected a JSON object, found an array');
    expect(reason('"text"')).toBe('expected a JSON object, found string');
    expect(reason(JSON.stringify({ ...base, id: 1.5 }))).toBe(
      "field 'id': expected an integer, found number 1.5",
    );
    expect(reason(JSON.stringify({ ...base, id: undefined }))).toBe(
      "field 'id': expected an integer, found nothing",
    );
    expect(reason(JSON.stringify({ ...base, speed: null }))).toBe(
      "field 'speed': expected a finite number, found object null",
    );
    expect(reason(JSON.stringify({ ...base, at: 'soon' }))).toBe(
      `field 'at': expected a timestamp (ISO string or epoch milliseconds), found string "soon"`,
    );
    expect(reason(JSON.stringify({ ...base, ok: 'yes' }))).toBe(
      `field 'ok': expected true or false, found string "yes"`,
    );
    expect(reason(JSON.stringify(base))).toBe('ok');
  });
});

describe('timestampMicros', () => {
  it('reads zone-less timestamps as UTC and refuses impossible dates', () => {
    expect(timestampMicros('2001-01-01 00:01:00')).toBe(978_307_260_000_000n);
    expect(timestampMicros('2001-01-01T00:01:00.5')).toBe(978_307_260_500_000n);
    expect(timestampMicros('2001-01-01T02:01:00+02:00')).toBe(978_307_260_000_000n);
    expect(timestampMicros(978_307_260_000)).toBe(978_307_260_000_000n);
    expect(timestampMicros('2001-02-30 00:00:00')).toBeUndefined();
    expect(timestampMicros(Number.NaN)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { DagDefinitionError, defineDag } from '../../src/dag/index.ts';
import type { TaskDefinition } from '../../src/dag/types.ts';

const noop = () => undefined;
const task = (id: string, deps: string[] = [], extra: Partial<TaskDefinition> = {}): TaskDefinition => ({
  id,
  deps,
  run: noop,
  ...extra,
});

describe('defineDag', () => {
  it('orders tasks topologically and finds the leaves', () => {
    const dag = defineDag({
      id: 'diamond',
      description: 'd',
      tasks: [
        task('report', ['left', 'right']),
        task('left', ['start']),
        task('right', ['start']),
        task('start'),
      ],
    });
    const order = dag.tasks.map((t) => t.id);
    expect(order.indexOf('start')).toBeLessThan(order.indexOf('left'));
    expect(order.indexOf('left')).toBeLessThan(order.indexOf('report'));
    expect(order.indexOf('right')).toBeLessThan(order.indexOf('report'));
    expect(dag.leaves).toEqual(['report']);
    expect(dag.downstream.get('start')).toEqual(['left', 'right']);
  });

  it('applies task defaults from defaultTaskOptions, task settings winning', () => {
    const dag = defineDag({
      id: 'defaults',
      description: '',
      defaultTaskOptions: { retries: 3, retryDelayMs: 50, timeoutMs: 1000 },
      tasks: [task('a'), task('b', ['a'], { retries: 0 })],
    });
    expect(dag.taskById.get('a')).toMatchObject({
      retries: 3,
      retryDelayMs: 50,
      timeoutMs: 1000,
      triggerRule: 'all_success',
    });
    expect(dag.taskById.get('b')?.retries).toBe(0);
  });

  it('prints the cycle path', () => {
    expect(() =>
      defineDag({
        id: 'cyclic',
        description: '',
        tasks: [task('a', ['c']), task('b', ['a']), task('c', ['b']), task('d')],
      }),
    ).toThrowError(/DAG 'cyclic' has a cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/);
  });

  it('names an unknown dependency', () => {
    expect(() => defineDag({ id: 'x', description: '', tasks: [task('a', ['missing'])] })).toThrowError(
      "DAG 'x', task 'a' depends on unknown task 'missing'",
    );
  });

  it('names a duplicate task id', () => {
    expect(() => defineDag({ id: 'x', description: '', tasks: [task('a'), task('a')] })).toThrowError(
      "DAG 'x': duplicate task id 'a'",
    );
  });

  it('rejects an invalid cron expression and says what was expected', () => {
    expect(() =>
      defineDag({ id: 'x', description: '', schedule: '61 * * * *', tasks: [task('a')] }),
    ).toThrowError(/invalid cron expression '61 \* \* \* \*'/);
    expect(() =>
      defineDag({ id: 'x', description: '', schedule: '0 0 * *', tasks: [task('a')] }),
    ).toThrowError(/expected 5 fields/);
  });

  it('rejects an unknown time zone, a bad start date and bad retry settings', () => {
    const error = (() => {
      try {
        defineDag({
          id: 'x',
          description: '',
          timezone: 'Mars/Olympus',
          startDate: '2001-02-30',
          tasks: [task('a', [], { retries: -1 })],
        });
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(DagDefinitionError);
    expect(error.message).toContain("unknown time zone 'Mars/Olympus'");
    expect(error.message).toContain("startDate '2001-02-30' is not a date");
    expect(error.message).toContain('retries must be a non-negative integer, found -1');
  });

  it('accepts cron presets', () => {
    expect(defineDag({ id: 'p', description: '', schedule: '@daily', tasks: [task('a')] }).schedule).toBe(
      '@daily',
    );
  });
  it('keeps declared Kafka triggers, copied from the definition', () => {
    const triggers = [{ kafka: { topic: 'flights.ready-v1', dateField: 'day' } }];
    const dag = defineDag({ id: 'kt', description: '', triggers, tasks: [task('a')] });
    triggers[0] = { kafka: { topic: 'changed', dateField: 'changed' } };
    expect(dag.triggers).toEqual([{ kafka: { topic: 'flights.ready-v1', dateField: 'day' } }]);
    expect(defineDag({ id: 'none', description: '', tasks: [task('a')] }).triggers).toEqual([]);
  });

  it('rejects a bad Kafka trigger, naming the DAG, the trigger and the field', () => {
    const problems = (triggers: unknown): string => {
      try {
        defineDag({ id: 'kt', description: '', triggers: triggers as never, tasks: [task('a')] });
      } catch (caught) {
        expect(caught).toBeInstanceOf(DagDefinitionError);
        return (caught as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(problems({ kafka: { topic: 't', dateField: 'd' } })).toBe(
      "DAG 'kt': triggers must be an array like [{ kafka: { topic, dateField } }], found an object",
    );
    expect(problems([{ kafka: { topic: 'has space', dateField: 'day' } }])).toBe(
      `DAG 'kt', trigger #1: kafka.topic "has space" is not a valid Kafka topic name: expected 1 to 249 letters, digits, '.', '_' or '-' (not '.' or '..')`,
    );
    expect(problems([{ kafka: { topic: '..', dateField: 'day' } }])).toMatch(
      /kafka.topic ".." is not a valid/,
    );
    expect(problems([{ kafka: { topic: 'x'.repeat(250), dateField: 'day' } }])).toMatch(
      /trigger #1: kafka.topic "x+" is not a valid Kafka topic name/,
    );
    expect(problems([{ kafka: { dateField: 'day' } }])).toMatch(
      /trigger #1: kafka.topic nothing is not a valid/,
    );
    expect(problems([{ kafka: { topic: 't', dateField: ' ' } }])).toBe(
      `DAG 'kt', trigger #1: kafka.dateField must name the JSON field holding the date, found " "`,
    );
    expect(problems([{ kafka: { topic: 't' } }])).toMatch(/trigger #1: kafka.dateField .* found nothing/);
    expect(problems([{ kafka: { topic: 't', dateFeild: 'day', dateField: 'day' } }])).toBe(
      "DAG 'kt', trigger #1: unknown field 'kafka.dateFeild': expected 'kafka.topic', 'kafka.dateField'",
    );
    expect(problems([{ kafka: { topic: 't', dateField: 'day' }, http: {} }])).toBe(
      "DAG 'kt', trigger #1: unknown key 'http': expected 'kafka'",
    );
    expect(problems([{}])).toBe("DAG 'kt', trigger #1: empty: expected { kafka: { topic, dateField } }");
    expect(problems(['t'])).toMatch(/trigger #1: expected an object like .*, found "t"/);
    expect(problems([{ kafka: 't' }])).toBe(
      `DAG 'kt', trigger #1: kafka must be an object { topic, dateField }, found "t"`,
    );
    expect(
      problems([{ kafka: { topic: 't', dateField: 'day' } }, { kafka: { topic: 't', dateField: 'date' } }]),
    ).toBe("DAG 'kt', trigger #2: kafka.topic 't' is already trigger #1 of this DAG");
  });

  it('reports trigger problems together with the other problems of the DAG', () => {
    expect(() =>
      defineDag({
        id: 'kt',
        description: '',
        timezone: 'Mars/Olympus',
        triggers: [{ kafka: { topic: 'ok', dateField: '' } }],
        tasks: [task('a')],
      }),
    ).toThrowError(/unknown time zone 'Mars\/Olympus'.*; DAG 'kt', trigger #1: kafka.dateField/);
  });
});

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
});

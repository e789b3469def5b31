import fs from 'node:fs/promises';
import path from 'node:path';
import { defineDag } from '../src/dag/index.ts';

/**
 * A small DAG that shows the engine's pieces without the ML stack: a daily partition written
 * atomically, two branches reading it, a join that sees their outputs, and retries.
 */
export default defineDag({
  id: 'example',
  description: 'Example: write a day of numbers, summarise them on two branches, report',
  schedule: '0 2 * * *',
  timezone: 'UTC',
  startDate: '2001-01-01',
  params: { count: 1000 },
  defaultTaskOptions: { retries: 2, retryDelayMs: 200, timeoutMs: 60_000 },
  tasks: [
    {
      id: 'generate',
      description: 'write the day of numbers as a JSON file (temporary file, then rename)',
      run: async ({ ds, params, config }) => {
        const count = Number(params.count);
        const dir = path.join(config.home, 'example', `date=${ds}`);
        await fs.mkdir(dir, { recursive: true });
        // Deterministic in the date: a rerun writes the same file.
        let seed = Number(ds.replaceAll('-', ''));
        const values = Array.from({ length: count }, () => {
          seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
          return seed % 1000;
        });
        const file = path.join(dir, 'numbers.json');
        await fs.writeFile(`${file}.tmp`, JSON.stringify(values));
        await fs.rename(`${file}.tmp`, file);
        return { file, count };
      },
    },
    {
      id: 'sum',
      deps: ['generate'],
      run: async ({ upstream }) => {
        const { file } = upstream.generate as { file: string };
        const values = JSON.parse(await fs.readFile(file, 'utf8')) as number[];
        return { sum: values.reduce((total, value) => total + value, 0), count: values.length };
      },
    },
    {
      id: 'histogram',
      deps: ['generate'],
      run: async ({ upstream }) => {
        const { file } = upstream.generate as { file: string };
        const values = JSON.parse(await fs.readFile(file, 'utf8')) as number[];
        const buckets = Array.from({ length: 10 }, () => 0);
        for (const value of values)
          buckets[Math.floor(value / 100)] = (buckets[Math.floor(value / 100)] ?? 0) + 1;
        return { buckets };
      },
    },
    {
      id: 'report',
      deps: ['sum', 'histogram'],
      run: ({ upstream, ds, log }) => {
        const { sum, count } = upstream.sum as { sum: number; count: number };
        const { buckets } = upstream.histogram as { buckets: number[] };
        log.info({ sum, buckets }, 'daily report');
        return {
          ds,
          sum,
          mean: count > 0 ? sum / count : null,
          busiestBucket: buckets.indexOf(Math.max(...buckets)),
        };
      },
    },
  ],
});

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/child.ts';
import { tempDir } from './helpers.ts';

/** `nightshift data import` and `data list` as a user runs them, on a CSV of their own. */
describe('nightshift data import and data list', () => {
  it('imports a CSV, leaves it unchanged on a rerun, and lists days, rows, bytes and schema', async () => {
    const root = await tempDir('import-cli');
    const env = {
      NIGHTSHIFT_DATA: path.join(root, 'data'),
      NIGHTSHIFT_HOME: path.join(root, 'home'),
      DATABASE_URL: '',
    };
    const csv = path.join(root, 'sales.csv');
    const lines = ['sale_id,sold_at,amount'];
    for (let i = 0; i < 30; i++)
      lines.push(`${i},2024-02-${String(10 + (i % 3))}T${String(i % 24).padStart(2, '0')}:00:00,${i}.5`);
    await writeFile(csv, `${lines.join('\n')}\n`);
    const args = ['data', 'import', 'sales', csv, '--date-column', 'sold_at', '--id-column', 'sale_id'];

    const first = await runCli(args, env);
    expect(first.stderr).not.toMatch(/^error/m);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      `sales 2024-02-10..2024-02-12: 3 days written, 0 unchanged, 30 rows from 1 csv file(s) in ${path.join(env.NIGHTSHIFT_DATA, 'sales')}\n`,
    );
    const again = await runCli(args, env);
    expect(again.stdout).toContain('0 days written, 3 unchanged, 30 rows');

    const list = await runCli(['data', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^dataset\s+days\s+first\s+last\s+rows\s+bytes\s+schema\n/);
    expect(list.stdout).toMatch(
      /\nsales\s+3\s+2024-02-10\s+2024-02-12\s+30\s+[\d.]+ (?:B|KiB)\s+sale_id BIGINT, sold_at TIMESTAMP, amount DOUBLE\n/,
    );

    const one = await runCli(['data', 'list', 'sales'], env);
    expect(one.stdout).toContain('schema: sale_id BIGINT, sold_at TIMESTAMP, amount DOUBLE\n');
    expect(one.stdout).toContain('contract: id sale_id, event time sold_at\n');
    expect(one.stdout).toMatch(/\n2024-02-11\s+10\s+[\d.]+ (?:B|KiB)\s+1\n/);

    const json = JSON.parse((await runCli(['data', 'list', 'sales', '--json'], env)).stdout) as {
      days: number;
      rows: number;
      bytes: number;
      partitions: { date: string; rows: number }[];
      contract: { idColumn: string };
    };
    expect(json.days).toBe(3);
    expect(json.rows).toBe(30);
    expect(json.bytes).toBeGreaterThan(0);
    expect(json.partitions.map((p) => p.rows)).toEqual([10, 10, 10]);
    expect(json.contract.idColumn).toBe('sale_id');
  });

  it('exits 2 with one clear line on bad usage, and fails naming the error file above the error rate', async () => {
    const root = await tempDir('import-cli-bad');
    const env = {
      NIGHTSHIFT_DATA: path.join(root, 'data'),
      NIGHTSHIFT_HOME: path.join(root, 'home'),
      DATABASE_URL: '',
    };
    const csv = path.join(root, 'bad.csv');
    await writeFile(csv, 'id,at\n1,2024-01-01\n2,someday\n3,2024-01-02\n');

    const noDate = await runCli(['data', 'import', 'bad', csv], env);
    expect(noDate.code).toBe(2);
    expect(noDate.stderr).toContain('expected --date-column <col>, or --date D for a one-day file');

    const badFormat = await runCli(
      ['data', 'import', 'bad', csv, '--date-column', 'at', '--format', 'xlsx'],
      env,
    );
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("--format: expected parquet, csv, ndjson, got 'xlsx'");

    const tooMany = await runCli(['data', 'import', 'bad', csv, '--date-column', 'at'], env);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.stderr).toContain('1 of 3 rows (33.33%) have no valid day in at');
    expect(tooMany.stderr).toContain(path.join(env.NIGHTSHIFT_HOME, 'errors', 'import-bad'));
    const list = await runCli(['data', 'list'], env);
    expect(list.stdout).toBe(`no datasets in ${env.NIGHTSHIFT_DATA}\n`);

    const allowed = await runCli(
      ['data', 'import', 'bad', csv, '--date-column', 'at', '--max-error-rate', '0.5'],
      env,
    );
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('2 days written');
    expect(allowed.stdout).toContain('1 rows without a valid day, see ');
  });
});

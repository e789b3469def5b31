import type { Command } from 'commander';
import { findDag, runDag, runForDay } from '../../dag/index.ts';
import { listTaskInstances } from '../../dag/sql/runQueries.ts';
import { addDays, parseDay, prepareFlights } from '../../data/index.ts';
import { UsageError } from '../../errors.ts';
import { aliasHistory, CHAMPION, getAliases } from '../../registry/aliases.ts';
import { configFrom, EXIT_FAILED, parsePositiveInteger, withStore } from '../context.ts';
import { formatDuration, formatTable, truncate } from '../format.ts';

const DAG_ID = 'flights-nightly';
const MODEL = 'flights-delay';
/** The training window plus the holdout day before the first night. */
const HISTORY_DAYS = 30;

interface DemoFlags {
  days: number;
  from: string;
}

type Outputs = Record<string, unknown> | null;

/**
 * The main job on the embedded default: prepares the flights data if needed, runs the nightly
 * DAG for N consecutive days, and tells what each night did and why.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(`run ${DAG_ID} for consecutive days on real flights data and show each night's decision`)
    .option('--days <n>', 'nights to run', parsePositiveInteger('--days'), 14)
    .option('--from <YYYY-MM-DD>', 'first logical date', '2001-02-01')
    .action(async (flags: DemoFlags, command: Command) => {
      const config = configFrom(command);
      const from = parseDay(flags.from, '--from');
      const last = addDays(from, flags.days - 1);
      if (addDays(from, -HISTORY_DAYS) < '2001-01-01' || last > '2001-06-30') {
        throw new UsageError(
          `--from ${from} --days ${flags.days}: the flights data covers 2001-01-01..2001-06-30 and each night needs the ${HISTORY_DAYS} days before it; start on or after ${addDays('2001-01-01', HISTORY_DAYS)}`,
        );
      }
      const dag = await findDag(config.dagsDir, DAG_ID);
      if (!dag) throw new UsageError(`no ${DAG_ID}.ts in ${config.dagsDir}`);
      const out = process.stdout;
      const started = Date.now();
      const prepared = await prepareFlights({
        dataDir: config.dataDir,
        from: addDays(from, -HISTORY_DAYS),
        to: last,
      });
      out.write(
        `flights ${addDays(from, -HISTORY_DAYS)}..${last}: ${prepared.written} partitions written, ${prepared.unchanged} already there (${prepared.rows.toLocaleString('en-US')} rows)\n`,
      );
      let failed = 0;
      await withStore(config, async (store) => {
        out.write(`store: ${store.description}\n\n`);
        for (let night = 0; night < flags.days; night++) {
          const day = addDays(from, night);
          const nightStarted = Date.now();
          const result = await runDag({
            store,
            config,
            dag,
            logicalDate: runForDay(dag, day).start,
            runType: 'backfill',
          });
          const tasks = Object.fromEntries(
            (await listTaskInstances(store, result.run.id)).map((ti) => [ti.taskId, ti]),
          );
          const outputs = (id: string): Outputs => (tasks[id]?.outputs as Outputs) ?? null;
          if (result.state !== 'success') failed++;
          out.write(
            `${describeNight(day, result.state, tasks, outputs)}  (${formatDuration(Date.now() - nightStarted)})\n`,
          );
        }
        const moves = (await aliasHistory(store, MODEL)).filter((move) => move.alias === CHAMPION);
        const champion = (await getAliases(store, MODEL))[CHAMPION];
        out.write(
          `\nchampion history of ${MODEL} (now: ${champion === undefined ? 'none' : `version ${champion}`})\n`,
        );
        out.write(
          `${formatTable(
            ['WHEN', 'ACTION', 'FROM', 'TO', 'BY', 'REASON'],
            moves.map((move) => [
              move.createdAt.toISOString().slice(0, 19).replace('T', ' '),
              move.action,
              move.fromVersion === null ? '-' : `v${move.fromVersion}`,
              move.toVersion === null ? '-' : `v${move.toVersion}`,
              move.actor,
              truncate(move.reason, 80),
            ]),
          )}\n`,
        );
      });
      out.write(
        `\n${flags.days} nights in ${formatDuration(Date.now() - started)}${failed > 0 ? `, ${failed} failed (see runs list)` : ''}\n`,
      );
      if (failed > 0) process.exitCode = EXIT_FAILED;
    });
}

function describeNight(
  day: string,
  state: string,
  tasks: Record<string, { state: string; error: string | null }>,
  outputs: (id: string) => Outputs,
): string {
  const parts: string[] = [`${day} ${state.padEnd(7)}`];
  const monitor = outputs('monitor');
  if (monitor?.rolledBack)
    parts.push(`ROLLED BACK v${monitor.champion} -> v${monitor.previous}: ${monitor.reason}`);
  const score = outputs('score');
  parts.push(
    score
      ? `scored ${Number(score.rows).toLocaleString('en-US')} rows with v${score.version}`
      : 'scored nothing (no champion)',
  );
  const validate = outputs('validate');
  if (validate) {
    const candidate = validate.candidateMetrics as { auc: number | null } | null;
    const champion = validate.championMetrics as { auc: number | null } | null;
    parts.push(
      `candidate v${validate.candidate} AUC ${candidate?.auc?.toFixed(4) ?? '-'}` +
        ` vs ${validate.champion ? `champion v${validate.champion} ${champion?.auc?.toFixed(4) ?? '-'}` : 'no champion'}` +
        ` on ${validate.holdout}`,
    );
  }
  const promote = outputs('promote');
  const keep = outputs('keep');
  if (promote) parts.push(`-> PROMOTED v${promote.champion}`);
  else if (keep)
    parts.push(
      `-> kept ${keep.champion ? `v${keep.champion}` : 'no champion'}: ${truncate(String(keep.reason), 90)}`,
    );
  const failedTask = Object.entries(tasks).find(([, task]) => task.state === 'failed');
  if (failedTask) parts.push(`FAILED ${failedTask[0]}: ${truncate(failedTask[1].error, 100)}`);
  return parts.join('  ');
}

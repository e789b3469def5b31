import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import {
  aliasHistory,
  cliActor,
  getAliases,
  getAllAliases,
  MAX_VERSION,
  parseModelRef,
  resolveModelRef,
} from '../../registry/aliases.ts';
import { latestBlessing } from '../../registry/blessings.ts';
import { promoteVersion, rollbackChampion } from '../../registry/promote.ts';
import { listModelVersions } from '../../registry/versions.ts';
import { configFrom, withStore } from '../context.ts';
import { formatTable, printJson, truncate } from '../format.ts';
import { summarizeLineage } from './lineageSummary.ts';

function parseVersion(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_VERSION) {
    throw new UsageError(
      `invalid version '${value}': expected a positive integer up to ${MAX_VERSION} (see 'models list')`,
    );
  }
  return Number(value);
}

function requireReason(reason: string | undefined, command: string): string {
  if (!reason || reason.trim() === '')
    throw new UsageError(`${command} needs --reason TEXT: every alias move records why`);
  return reason;
}

/** The headline metric of a version for tables: AUC for classifiers, RMSE for regressors. */
function headline(metrics: Record<string, unknown>): string {
  for (const key of ['auc', 'rmse', 'logLoss']) {
    const value = metrics[key] ?? (metrics.validation as Record<string, unknown> | undefined)?.[key];
    if (typeof value === 'number') return `${key} ${value.toFixed(4)}`;
  }
  return '';
}

export function registerModelCommands(program: Command): void {
  const models = program
    .command('models')
    .description('the model registry: versions, aliases, promotion, rollback');

  models
    .command('list')
    .description('model versions with their status and aliases, newest first')
    .option('--model <name>', 'only this model')
    .option('--json', 'print a JSON array of {model, version, status, aliases, createdAt, metrics}')
    .action(async (options: { model?: string; json?: boolean }, command: Command) => {
      await withStore(configFrom(command), async (store) => {
        const [versions, aliases] = await Promise.all([
          listModelVersions(store, options.model),
          getAllAliases(store),
        ]);
        const listed = versions.map((version) => ({
          model: version.model,
          version: version.version,
          status: version.status,
          aliases: aliases.get(version.model)?.get(version.version) ?? [],
          createdAt: version.createdAt.toISOString(),
          metrics: version.metrics,
        }));
        if (options.json) return printJson(listed);
        if (listed.length === 0) return void process.stdout.write('no model versions\n');
        process.stdout.write(
          `${formatTable(
            ['MODEL', 'VERSION', 'STATUS', 'ALIASES', 'CREATED', 'METRIC'],
            listed.map((v) => [
              v.model,
              String(v.version),
              v.status,
              v.aliases.join(','),
              v.createdAt.replace('T', ' ').slice(0, 19),
              headline(v.metrics),
            ]),
          )}\n`,
        );
      });
    });

  models
    .command('show')
    .description(
      'one version: metrics, lineage (summarised: day ranges and counts; --json has every partition), aliases and its latest blessing',
    )
    .argument('<ref>', 'model@version, model@latest or model@alias (champion, previous, ...)')
    .option('--json', 'print JSON')
    .action(async (reference: string, options: { json?: boolean }, command: Command) => {
      parseModelRef(reference); // before the store is opened (or created)
      await withStore(configFrom(command), async (store) => {
        const version = await resolveModelRef(store, reference);
        const aliases = Object.entries(await getAliases(store, version.model))
          .filter(([, v]) => v === version.version)
          .map(([alias]) => alias);
        const blessing = (await latestBlessing(store, version.model, version.version)) ?? null;
        const shown = { ...version, createdAt: version.createdAt.toISOString(), aliases, blessing };
        if (options.json) return printJson(shown);
        const out = process.stdout;
        out.write(
          `${version.model}@${version.version}  ${version.status}${aliases.length ? `  [${aliases.join(', ')}]` : ''}\n`,
        );
        out.write(`created ${shown.createdAt}, artifact ${version.artifactPath}\n`);
        out.write(`metrics ${JSON.stringify(version.metrics)}\n`);
        for (const line of summarizeLineage(version.lineage as unknown as Record<string, unknown>))
          out.write(`${line}\n`);
        if (!blessing) return void out.write('blessing: never validated\n');
        out.write(
          `blessing #${blessing.id}: ${blessing.passed ? 'PASSED' : 'FAILED'}` +
            `${blessing.baselineVersion ? ` against champion ${blessing.baselineVersion}` : ' (no champion to compare with)'}\n`,
        );
        const rules = blessing.rules as { rule?: string; verdict?: string; reason?: string }[];
        out.write(
          `${formatTable(
            ['RULE', 'VERDICT', 'REASON'],
            rules.map((rule) => [rule.rule ?? '', rule.verdict ?? '', truncate(rule.reason, 90)]),
          )}\n`,
        );
      });
    });

  models
    .command('promote')
    .description('make a version champion (the old champion becomes previous); needs a passing blessing')
    .argument('<model>', 'model name')
    .argument('<version>', 'version number', parseVersion)
    .option('--reason <text>', 'why (recorded in the history)')
    .option('--force', 'promote without a passing blessing (recorded as forced)')
    .action(
      async (
        model: string,
        version: number,
        options: { reason?: string; force?: boolean },
        command: Command,
      ) => {
        const reason = requireReason(options.reason, 'models promote');
        await withStore(configFrom(command), async (store) => {
          const result = await store.transaction((tx) =>
            promoteVersion(tx, { model, version, reason, actor: cliActor(), force: options.force }),
          );
          process.stdout.write(
            `${model}: champion ${result.replaced ?? '(none)'} -> ${result.champion}${options.force ? ' (forced)' : ''}\n`,
          );
        });
      },
    );

  models
    .command('rollback')
    .description("move champion back to 'previous' (or to --to VERSION)")
    .argument('<model>', 'model name')
    .option('--to <version>', 'the version to go back to', parseVersion)
    .option('--reason <text>', 'why (recorded in the history)')
    .action(async (model: string, options: { to?: number; reason?: string }, command: Command) => {
      const reason = requireReason(options.reason, 'models rollback');
      await withStore(configFrom(command), async (store) => {
        // What the transaction did, read under the model's lock: a champion read before it
        // could have moved in between.
        const result = await store.transaction((tx) =>
          rollbackChampion(tx, { model, to: options.to, reason, actor: cliActor() }),
        );
        process.stdout.write(
          `${model}: champion ${result.replaced ?? '(none)'} -> ${result.champion} (rolled back)\n`,
        );
      });
    });

  models
    .command('history')
    .description('every alias move of a model, oldest first')
    .argument('<model>', 'model name')
    .option('--json', 'print a JSON array')
    .action(async (model: string, options: { json?: boolean }, command: Command) => {
      await withStore(configFrom(command), async (store) => {
        const moves = await aliasHistory(store, model);
        if (options.json)
          return printJson(moves.map((move) => ({ ...move, createdAt: move.createdAt.toISOString() })));
        if (moves.length === 0) return void process.stdout.write(`no alias moves for '${model}'\n`);
        process.stdout.write(
          `${formatTable(
            ['WHEN', 'ALIAS', 'ACTION', 'FROM', 'TO', 'BY', 'BLESSING', 'REASON'],
            moves.map((move) => [
              move.createdAt.toISOString().replace('T', ' ').slice(0, 19),
              move.alias,
              move.action,
              move.fromVersion === null ? '-' : String(move.fromVersion),
              move.toVersion === null ? '-' : String(move.toVersion),
              move.actor,
              move.forced ? 'FORCED' : move.blessingId === null ? '-' : `#${move.blessingId}`,
              truncate(move.reason, 60),
            ]),
          )}\n`,
        );
      });
    });
}

import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { deletePool, listPools, setPool } from '../../executor/pools.ts';
import { configFrom, withStore } from '../context.ts';
import { formatTable, printJson } from '../format.ts';

function parseSlots(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`invalid slots '${value}': expected a whole number (0 holds the pool's tasks back)`);
  return Number(value);
}

export function registerPoolCommands(program: Command): void {
  const pools = program
    .command('pools')
    .description('pools cap how many tasks that use them run at once, across all processes and machines');

  pools
    .command('list')
    .description('pools with their slots and the tasks using them now')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const config = configFrom(command);
      await withStore(config, async (store) => {
        const rows = await listPools(store);
        if (options.json) return printJson(rows);
        if (rows.length === 0) {
          process.stdout.write("no pools: every pool is uncapped ('pools set <name> <slots>' caps one)\n");
          return;
        }
        process.stdout.write(
          `${formatTable(
            ['POOL', 'SLOTS', 'RUNNING', 'QUEUED', 'DESCRIPTION'],
            rows.map((row) => [
              row.name,
              String(row.slots),
              String(row.running),
              String(row.queued),
              row.description,
            ]),
          )}\n`,
        );
      });
    });

  pools
    .command('set')
    .description('create a pool or change its slots')
    .argument('<name>', 'pool name (what tasks name in `pool`)')
    .argument('<slots>', 'tasks of the pool that may run at once', parseSlots)
    .option('--description <text>', 'what the pool stands for (a GPU, a rate-limited API)')
    .action(async (name: string, slots: number, options: { description?: string }, command: Command) => {
      const config = configFrom(command);
      await withStore(config, async (store) => {
        await setPool(store, { name, slots, description: options.description });
        process.stdout.write(`pool ${name}: ${slots} slot${slots === 1 ? '' : 's'}\n`);
      });
    });

  pools
    .command('delete')
    .description('remove a pool: its tasks are no longer capped')
    .argument('<name>', 'pool name')
    .action(async (name: string, _options: unknown, command: Command) => {
      const config = configFrom(command);
      await withStore(config, async (store) => {
        if (!(await deletePool(store, name))) throw new UsageError(`no pool '${name}' (see 'pools list')`);
        process.stdout.write(`pool ${name} deleted: its tasks are no longer capped\n`);
      });
    });
}

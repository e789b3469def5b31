import { Command, CommanderError } from 'commander';
import { DagValidationError, NightshiftError, RegistryStateError, UsageError } from '../errors.ts';
import { registerBackfillCommand } from './commands/backfill.ts';
import { registerDagCommands } from './commands/dags.ts';
import { registerDataCommands } from './commands/data.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerKafkaCommands } from './commands/kafka.ts';
import { registerMlCommands } from './commands/ml.ts';
import { registerModelCommands } from './commands/models.ts';
import { registerPoolCommands } from './commands/pools.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerRunsCommands } from './commands/runs.ts';
import { registerSchedulerCommand } from './commands/scheduler.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerTaskCommands } from './commands/tasks.ts';
import { registerTriggerCommand } from './commands/trigger.ts';
import { registerWorkerCommands } from './commands/worker.ts';
import { EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE } from './context.ts';

export function buildProgram(): Command {
  const program = new Command('nightshift')
    .description('Batch prediction and scheduled retraining: DAGs, sharded inference, a model registry.')
    .option(
      '--home <dir>',
      'where Nightshift writes: embedded database, artifacts, outputs (env NIGHTSHIFT_HOME)',
    )
    .option('--dags <dir>', 'folder of DAG files (env NIGHTSHIFT_DAGS)')
    .option('--data <dir>', 'root of the datasets (env NIGHTSHIFT_DATA)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      // Commander's own usage errors: one line on stderr (the help hint is dropped).
      writeErr: (text) => {
        if (!text.startsWith('(add --help')) process.stderr.write(text);
      },
    });
  registerDagCommands(program);
  registerRunCommand(program);
  registerRunsCommands(program);
  registerTaskCommands(program);
  registerModelCommands(program);
  registerDataCommands(program);
  registerKafkaCommands(program);
  registerMlCommands(program);
  registerDemoCommand(program);
  registerSchedulerCommand(program);
  registerBackfillCommand(program);
  registerTriggerCommand(program);
  registerServeCommand(program);
  registerWorkerCommands(program);
  registerPoolCommands(program);
  // Usage errors at any depth (`data prepare flights --from x`) end in main's exit code 2.
  const overrideExits = (command: Command): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExits(sub);
  };
  overrideExits(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return 0;
      return EXIT_USAGE;
    }
    if (error instanceof UsageError || error instanceof DagValidationError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof RegistryStateError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_REFUSED;
    }
    if (error instanceof NightshiftError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_FAILED;
    }
    // An unexpected error: one line, the stack only when asked for (LOG_LEVEL=debug).
    const debug = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
    const text =
      error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
    process.stderr.write(`error: ${text}\n`);
    return EXIT_FAILED;
  }
}

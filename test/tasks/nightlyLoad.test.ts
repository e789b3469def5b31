import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDagFile, loadDags } from '../../src/dag/index.ts';
import { DagValidationError } from '../../src/errors.ts';
import { tempDagsDir, tempDir } from '../helpers/stores.ts';
import { src, writeSensorPipeline } from './sensorPipeline.ts';

/** A DAG file running the sensor-load pipeline (a regression) with the given rules. */
function writeDag(
  dagsDir: string,
  id: string,
  pipelinesDir: string,
  rules: string,
  rollback: string,
): string {
  const file = path.join(dagsDir, `${id}.ts`);
  fs.writeFileSync(
    file,
    `import { defineDag, nightlyTasks } from '${src('index.ts')}';
export default defineDag({
  id: '${id}',
  description: 'sensor load',
  tasks: nightlyTasks({
    pipeline: 'sensor-load',
    pipelinesDir: ${JSON.stringify(pipelinesDir)},
    blessingRules: ${rules},
    rollback: ${rollback},
  }),
});
`,
  );
  return file;
}

describe('a nightly DAG file is checked against its pipeline when it loads', () => {
  const pipelinesDir = tempDir('nightshift-pipelines-');
  writeSensorPipeline(pipelinesDir);

  it('refuses a rule on a metric the pipeline task cannot measure, naming the file and the rule', async () => {
    const dagsDir = tempDagsDir();
    const file = writeDag(
      dagsDir,
      'sensor-auc',
      pipelinesDir,
      "[{ kind: 'floor', metric: 'auc', min: 0.6 }]",
      "{ metric: 'mae', maxDrop: 1 }",
    );
    const error = await loadDagFile(file).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DagValidationError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain("'auc'");
    expect((error as Error).message).toContain('regression');
    // dags list sees it as a broken file, not as a DAG that fails at night.
    const { dags, errors } = await loadDags(dagsDir);
    expect(dags).toHaveLength(0);
    expect(errors.map((failed) => failed.file)).toEqual([file]);
  });

  it('refuses a rollback metric the task cannot measure', async () => {
    const dagsDir = tempDagsDir();
    const file = writeDag(
      dagsDir,
      'sensor-rollback',
      pipelinesDir,
      "[{ kind: 'finiteScores' }]",
      "{ metric: 'auc', maxDrop: 0.02 }",
    );
    await expect(loadDagFile(file)).rejects.toThrow(/auc/);
  });

  it('loads the same DAG with regression rules', async () => {
    const dagsDir = tempDagsDir();
    const file = writeDag(
      dagsDir,
      'sensor-mae',
      pipelinesDir,
      "[{ kind: 'ceiling', metric: 'mae', max: 3 }]",
      "{ metric: 'mae', maxDrop: 1 }",
    );
    const dag = await loadDagFile(file);
    expect(dag.tasks.map((task) => task.id)).toContain('validate');
  });
});

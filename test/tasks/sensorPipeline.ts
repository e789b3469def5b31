// A user's pipeline on a dataset that is not flights, written into a temporary pipelines folder.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/child.ts';

export const src = (file: string) => pathToFileURL(path.join(repoRoot, 'src', file)).href;

/** A user's pipeline on a dataset that is not flights: a reading and a label per sensor a day. */
export function writeSensorPipeline(dir: string): void {
  const pipelineDir = path.join(dir, 'sensor-load');
  fs.mkdirSync(pipelineDir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  fs.writeFileSync(
    path.join(pipelineDir, 'features.ts'),
    `import { defineFeatures } from '${src('data/index.ts')}';
export const features = defineFeatures({
  name: 'sensor-load', version: 1, id: 'sensor',
  features: { reading: { kind: 'numeric', column: 'reading', standardize: true } },
  label: { kind: 'regression', column: 'load' },
});
`,
  );
  fs.writeFileSync(
    path.join(pipelineDir, 'model.ts'),
    `import { buildTabularModel } from '${src('ml/models.ts')}';
export const model = {
  name: 'sensor-load', dataset: 'sensors', task: 'regression',
  build: (layout, seed) => buildTabularModel(layout, { seed, hidden: [4], output: 'linear' }),
  training: { seed: 1, windowDays: 3, epochs: 1, batchSize: 8, learningRate: 0.01,
    validationFraction: 0.25, earlyStopping: { patience: 1 } },
};
`,
  );
}

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FeatureSpec } from '../data/index.ts';
import { ConfigError } from '../errors.ts';
import { checkTrainingSettings, type ModelRecipe } from './recipe.ts';

/** A pipeline folder's two halves: the feature spec (data plane) and the model recipe (ml). */
export interface PipelineDefinition {
  name: string;
  dir: string;
  features: FeatureSpec;
  model: ModelRecipe;
}

function isFeatureSpec(value: unknown): value is FeatureSpec {
  const spec = value as Partial<FeatureSpec> | null;
  return (
    typeof spec === 'object' &&
    spec !== null &&
    typeof spec.id === 'string' &&
    typeof spec.features === 'object'
  );
}

function isModelRecipe(value: unknown): value is ModelRecipe {
  const recipe = value as Partial<ModelRecipe> | null;
  return (
    typeof recipe === 'object' &&
    recipe !== null &&
    typeof recipe.build === 'function' &&
    typeof recipe.training === 'object'
  );
}

/** Loads `pipelines/<name>/features.ts` and `model.ts`, taking the export of the right shape from each. */
export async function loadPipeline(
  name: string,
  pipelinesDir = path.resolve('pipelines'),
): Promise<PipelineDefinition> {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
    throw new ConfigError(`pipeline: expected a folder name under ${pipelinesDir}, found '${name}'`);
  }
  const dir = path.join(pipelinesDir, name);
  const load = async (file: string) => {
    try {
      return (await import(pathToFileURL(path.join(dir, file)).href)) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`pipeline ${name}: could not load ${path.join(dir, file)}: ${String(error)}`, {
        cause: error,
      });
    }
  };
  const features = Object.values(await load('features.ts')).find(isFeatureSpec);
  const model = Object.values(await load('model.ts')).find(isModelRecipe);
  if (!features)
    throw new ConfigError(
      `pipeline ${name}: expected features.ts to export a feature spec (defineFeatures), found none`,
    );
  if (!model)
    throw new ConfigError(
      `pipeline ${name}: expected model.ts to export a model recipe (build, training), found none`,
    );
  checkTrainingSettings(`pipeline ${name}: model.ts training`, model.training, model.task);
  if (features.label !== undefined && features.label.kind !== model.task) {
    throw new ConfigError(
      `pipeline ${name}: model.ts declares task '${model.task}' but features.ts has a ${features.label.kind} label: expected them to agree`,
    );
  }
  return { name, dir, features, model };
}

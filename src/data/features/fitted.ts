import { readFile, rename, writeFile } from 'node:fs/promises';
import { ConfigError } from '../../errors.ts';
import type { LabelDefinition, TimeUnit } from './spec.ts';

/** Bump when the shape below changes; loading refuses other formats rather than guess. */
export const FITTED_FEATURES_FORMAT = 1;

/**
 * A feature spec with everything learnt from the training window: clip bounds, means and
 * standard deviations, vocabularies. Self-contained JSON saved with the model: scoring reads
 * this and never the spec, so it can never refit by accident.
 */
export interface FittedFeatures {
  format: typeof FITTED_FEATURES_FORMAT;
  spec: { name: string; version: number };
  id: string;
  features: FittedFeature[];
  /** The float vector's layout: slot i of each row is `slots[i]`. */
  slots: FeatureSlot[];
  label?: LabelDefinition;
  slices: string[];
  fittedOn: { rows: number; dates: string[] };
  fittedAt: string;
}

export type FittedFeature = FittedNumeric | FittedCyclic | FittedCategorical;

export interface FittedNumeric {
  name: string;
  kind: 'numeric';
  column: string;
  clipMin: number | null;
  clipMax: number | null;
  log1p: boolean;
  /** 0 and 1 when the feature is not standardised. */
  mean: number;
  std: number;
}

export interface FittedCyclic {
  name: string;
  kind: 'cyclic';
  column: string;
  cycle: { unit: TimeUnit } | { period: number };
}

export type FittedCategorical = {
  name: string;
  kind: 'categorical';
  column: string;
  nullable: boolean;
} & ({ encoding: 'vocabulary'; vocabulary: string[] } | { encoding: 'hash'; buckets: number });

export interface FeatureSlot {
  name: string;
  feature: string;
  kind: FittedFeature['kind'];
  /** For categorical slots: the value is an integer index in [0, cardinality), 0 meaning out of vocabulary or null. */
  cardinality?: number;
}

export function featureSlots(features: readonly FittedFeature[]): FeatureSlot[] {
  return features.flatMap((feature): FeatureSlot[] => {
    if (feature.kind === 'numeric') return [{ name: feature.name, feature: feature.name, kind: 'numeric' }];
    if (feature.kind === 'cyclic') {
      return [
        { name: `${feature.name}_sin`, feature: feature.name, kind: 'cyclic' },
        { name: `${feature.name}_cos`, feature: feature.name, kind: 'cyclic' },
      ];
    }
    return [
      {
        name: feature.name,
        feature: feature.name,
        kind: 'categorical',
        cardinality: categoricalCardinality(feature),
      },
    ];
  });
}

export function categoricalCardinality(feature: FittedCategorical): number {
  return 1 + (feature.encoding === 'vocabulary' ? feature.vocabulary.length : feature.buckets);
}

export function serializeFittedFeatures(fitted: FittedFeatures): string {
  return `${JSON.stringify(fitted, null, 2)}\n`;
}

/** Parses fitted JSON, checking the format and that the slots agree with the features. */
export function parseFittedFeatures(text: string, source = 'fitted features'): FittedFeatures {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source}: expected JSON, found unparseable text`, { cause: error });
  }
  const fitted = parsed as Partial<FittedFeatures> | null;
  if (fitted?.format !== FITTED_FEATURES_FORMAT) {
    throw new ConfigError(
      `${source}: expected fitted features format ${FITTED_FEATURES_FORMAT}, found ${String(fitted?.format)}`,
    );
  }
  if (!Array.isArray(fitted.features) || !Array.isArray(fitted.slots) || typeof fitted.id !== 'string') {
    throw new ConfigError(`${source}: expected id, features and slots`);
  }
  const expected = featureSlots(fitted.features as FittedFeature[]);
  if (JSON.stringify(expected) !== JSON.stringify(fitted.slots)) {
    throw new ConfigError(`${source}: slots do not match the features (edited by hand?)`);
  }
  return fitted as FittedFeatures;
}

/** Written beside a model; temp file then rename so a reader never sees half a file. */
export async function saveFittedFeatures(file: string, fitted: FittedFeatures): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await writeFile(temp, serializeFittedFeatures(fitted));
  await rename(temp, file);
}

export async function loadFittedFeatures(file: string): Promise<FittedFeatures> {
  return parseFittedFeatures(await readFile(file, 'utf8'), file);
}

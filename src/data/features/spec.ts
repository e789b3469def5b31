import { ConfigError } from '../../errors.ts';

/**
 * The declarative feature spec a pipeline exports (see docs/features.md). It names input
 * columns and what to compute from them; `fitFeatures` turns it into `FittedFeatures`, the JSON
 * that travels with a model and is the only thing scoring reads.
 */
export interface FeatureSpec {
  /** Names the spec in fitted JSON and in error messages, e.g. `flights-delay`. */
  name: string;
  /** Bump when a definition changes: fitted JSON records it. */
  version: number;
  /** Column that identifies a row; integer columns give `BigInt64Array` ids, others strings. */
  id: string;
  /** Features in vector order. Each numeric or categorical feature fills one slot, a cyclic one two. */
  features: Record<string, FeatureDefinition>;
  /** What the model learns to predict; absent for unsupervised pipelines. */
  label?: LabelDefinition;
  /** Columns whose values group rows for per-slice validation (returned as codes, not features). */
  slices?: string[];
}

export type FeatureDefinition = NumericFeature | CyclicFeature | CategoricalFeature;

/** Applied in this order: clip, then log1p, then standardise (with mean and std fitted after the first two). */
export interface NumericFeature {
  kind: 'numeric';
  column: string;
  /** Fixed bounds, or quantiles of the training window (e.g. `[0.001, 0.999]`). */
  clip?: { min?: number; max?: number } | { quantiles: readonly [number, number] };
  /** `ln(1 + x)`; values at or below -1 (after clipping) break the contract. */
  log1p?: boolean;
  /** `(x - mean) / std` with mean and std fitted on the training window. */
  standardize?: boolean;
}

export type TimeUnit = 'hourOfDay' | 'dayOfWeek' | 'dayOfYear' | 'monthOfYear';

/** `sin` and `cos` of the position in a cycle: either a unit of a timestamp column, or a numeric column and its period. */
export type CyclicFeature =
  | { kind: 'cyclic'; column: string; unit: TimeUnit }
  | { kind: 'cyclic'; column: string; period: number };

export interface CategoricalFeature {
  kind: 'categorical';
  column: string;
  encoding: VocabularyEncoding | HashEncoding;
  /** Null maps to index 0 instead of breaking the contract. */
  nullable?: boolean;
}

/** The `topN` most frequent values of the training window get indices 1..N; anything else gets 0. */
export interface VocabularyEncoding {
  type: 'vocabulary';
  topN: number;
  /** Values seen fewer times than this stay out of the vocabulary. */
  minCount?: number;
}

/** Index `1 + md5(value) mod buckets`: nothing to fit, stable across versions; 0 is null. */
export interface HashEncoding {
  type: 'hash';
  buckets: number;
}

export type ComparisonOperator = '>' | '>=' | '<' | '<=' | '=' | '!=';

export type LabelDefinition =
  /** 1 when `column op value` holds, else 0. */
  | { kind: 'binary'; column: string; positiveWhen: { op: ComparisonOperator; value: number | string } }
  /** The column's value as a float. */
  | { kind: 'regression'; column: string };

/** Checks a spec once, where it is declared, so a mistake fails at load time and names the feature. */
export function defineFeatures<const T extends FeatureSpec>(spec: T): T {
  const where = `feature spec '${spec.name}'`;
  if (!spec.name) throw new ConfigError('feature spec: expected a non-empty name');
  if (!Number.isInteger(spec.version) || spec.version < 1) {
    throw new ConfigError(`${where}: expected version to be a positive integer, got ${spec.version}`);
  }
  if (!spec.id) throw new ConfigError(`${where}: expected an id column`);
  const names = Object.keys(spec.features);
  if (names.length === 0) throw new ConfigError(`${where}: expected at least one feature`);
  for (const name of names)
    checkFeature(`${where}, feature '${name}'`, spec.features[name] as FeatureDefinition);
  if (spec.label && !['binary', 'regression'].includes(spec.label.kind)) {
    throw new ConfigError(`${where}: expected label kind 'binary' or 'regression'`);
  }
  return spec;
}

function checkFeature(where: string, feature: FeatureDefinition): void {
  if (!feature.column) throw new ConfigError(`${where}: expected a column`);
  switch (feature.kind) {
    case 'numeric': {
      const clip = feature.clip;
      if (clip && 'quantiles' in clip) {
        const [low, high] = clip.quantiles;
        if (!(low >= 0 && low < high && high <= 1)) {
          throw new ConfigError(
            `${where}: expected clip quantiles 0 <= low < high <= 1, got [${low}, ${high}]`,
          );
        }
      } else if (clip && clip.min !== undefined && clip.max !== undefined && clip.min > clip.max) {
        throw new ConfigError(`${where}: expected clip min <= max, got ${clip.min} > ${clip.max}`);
      }
      return;
    }
    case 'cyclic':
      if ('period' in feature && !(feature.period > 0)) {
        throw new ConfigError(`${where}: expected a positive period, got ${feature.period}`);
      }
      return;
    case 'categorical': {
      const encoding = feature.encoding;
      const size = encoding.type === 'vocabulary' ? encoding.topN : encoding.buckets;
      if (!Number.isInteger(size) || size < 1) {
        throw new ConfigError(
          `${where}: expected ${encoding.type === 'vocabulary' ? 'topN' : 'buckets'} >= 1, got ${size}`,
        );
      }
      return;
    }
    default:
      throw new ConfigError(`${where}: unknown kind '${(feature as { kind: unknown }).kind}'`);
  }
}

/**
 * The shapes of validation, declared once: the rules a pipeline states, what a model's evaluation
 * on the holdout looks like, and the blessing that records every rule's verdict. A blessing is
 * plain JSON (stored with the model version, shown by `models show` and `runs show`), so values
 * that cannot be measured are `null`, never NaN.
 */

/** Metrics the rules know, with their direction in `metrics.ts`. */
export type MetricName =
  | 'auc'
  | 'accuracy'
  | 'precision'
  | 'recall'
  | 'logLoss'
  | 'brier'
  | 'rmse'
  | 'mae'
  | 'r2'
  | 'expectedCalibrationError';

/** The task a pipeline's model solves: which metrics its evaluations can hold. */
export type TaskType = 'binary' | 'regression';

/** `absolute`: in the metric's units; `relative`: a fraction of the champion's value (0.02 = 2%). */
export type ChangeMode = 'absolute' | 'relative';

/** Absolute lower bound on a candidate's metric, whatever the champion does. */
export interface FloorRule {
  kind: 'floor';
  metric: MetricName;
  min: number;
  name?: string;
}

/** Absolute upper bound, for lower-better metrics such as log loss, Brier score or RMSE. */
export interface CeilingRule {
  kind: 'ceiling';
  metric: MetricName;
  max: number;
  name?: string;
}

/** How much worse than the champion the candidate may be; "worse" follows the metric's direction. */
export interface ChangeRule {
  kind: 'change';
  metric: MetricName;
  mode: ChangeMode;
  maxWorsening: number;
  name?: string;
}

/** Which slices a slice rule checks: named keys, or the `busiest` slices of one column. */
export type SliceSelection = { keys: string[] } | { column: string; busiest: number };

/**
 * A change rule applied slice by slice. Slices with fewer than `minCount` holdout rows are
 * skipped: their metric is too noisy to veto a model.
 */
export interface SliceChangeRule {
  kind: 'slice';
  metric: MetricName;
  mode: ChangeMode;
  maxWorsening: number;
  minCount: number;
  slices: SliceSelection;
  name?: string;
}

/** Sanity: at most `maxCount` (default 0) NaN or infinite candidate scores. */
export interface FiniteScoresRule {
  kind: 'finiteScores';
  maxCount?: number;
  name?: string;
}

/** Sanity: population stability index between champion and candidate scores, at most `max`. */
export interface PsiRule {
  kind: 'psi';
  max: number;
  /** Number of champion-quantile bins; 10 (deciles) by default. */
  bins?: number;
  name?: string;
}

/** The artifact loads in a fresh worker and scores a sample within `budgetMs`. */
export interface InfraRule {
  kind: 'infra';
  budgetMs: number;
  name?: string;
}

export type RuleSpec =
  | FloorRule
  | CeilingRule
  | ChangeRule
  | SliceChangeRule
  | FiniteScoresRule
  | PsiRule
  | InfraRule;

export type RuleKind = RuleSpec['kind'];

/** `column=value`, for example `origin=ORD`. */
export type SliceKey = string;

export interface SliceEvaluation {
  count: number;
  metrics: Record<string, number>;
  /** Metrics the slice's rows cannot define (one class, zero variance), with the reason. */
  skipped?: Record<string, string>;
}

/** One model scored on the holdout. `scores` is needed by the sanity rules only. */
export interface EvaluationResult {
  metrics: Record<string, number>;
  /**
   * Metrics the holdout itself cannot define (a single class for AUC, a constant label for R²),
   * with the reason: rules on them are skipped, not failed, and no NaN reaches an output.
   */
  skipped?: Record<string, string>;
  slices: Record<SliceKey, SliceEvaluation>;
  scores?: Float32Array;
}

/** What the caller measured loading the artifact in a fresh worker and scoring a sample. */
export interface InfraCheck {
  loaded: boolean;
  /** Load plus scoring of the sample; absent when loading failed. */
  latencyMs?: number;
  /** Why loading or scoring failed, shown in the reason. */
  error?: string;
}

export type Verdict = 'pass' | 'fail' | 'skipped';

export interface RuleResult {
  /** The rule's name (its `name`, or one derived from kind and metric). */
  rule: string;
  kind: RuleKind;
  metric?: MetricName;
  slice?: SliceKey;
  /** The candidate's measured value; null when it could not be measured. */
  value: number | null;
  /** The champion's value, for rules that compare with it. */
  baselineValue?: number | null;
  threshold: number;
  verdict: Verdict;
  /** A sentence a human can read: "AUC 0.712 >= floor 0.65". */
  reason: string;
}

export interface Blessing {
  passed: boolean;
  rules: RuleResult[];
  baseline: 'champion' | 'none';
  summary: string;
}

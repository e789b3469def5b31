/**
 * Validation: the blessing of a candidate against the champion (TFX Evaluator's model blessing
 * is the reference) and the monitor's rollback decision. Pure logic: no database, no TensorFlow.
 */
export { type BlessingInput, evaluateBlessing } from './evaluate.ts';
export {
  KNOWN_METRICS,
  METRICS_BY_TASK,
  type MetricDirection,
  metricDirection,
  UnknownMetricError,
} from './metrics.ts';
export {
  PSI_DEFAULT_BINS,
  PSI_EMPTY_BIN_PROPORTION,
  type PsiResult,
  populationStabilityIndex,
} from './psi.ts';
export { type RollbackDecision, type RollbackInput, shouldRollback } from './rollback.ts';
export {
  checkRollbackMetricForTask,
  checkRulesForTask,
  defineBlessingRules,
  RuleMetricUnavailableError,
  RuleSpecError,
  ruleName,
  validateRuleSpecs,
} from './ruleSpecs.ts';
export type {
  Blessing,
  ChangeMode,
  EvaluationResult,
  InfraCheck,
  MetricName,
  RuleKind,
  RuleResult,
  RuleSpec,
  SliceEvaluation,
  SliceKey,
  SliceSelection,
  TaskType,
  Verdict,
} from './types.ts';

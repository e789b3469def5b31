import { ConfigError } from '../errors.ts';
import { isKnownMetric, KNOWN_METRICS, METRICS_BY_TASK } from './metrics.ts';
import type { MetricName, RuleKind, RuleSpec, TaskType } from './types.ts';

/**
 * Validation of rule specs at the public edge: a pipeline's rules are checked when the pipeline
 * loads (`defineBlessingRules`), so a typo fails the deploy, not the 3 a.m. run. Unknown fields
 * are errors too: `minimum` instead of `min` would otherwise silently drop a threshold.
 */

/** A malformed rule; names the rule's index and the field, and says what was expected. */
export class RuleSpecError extends ConfigError {
  readonly ruleIndex: number;
  readonly field: string;
  constructor(ruleIndex: number, field: string, message: string) {
    super(`validation rule ${ruleIndex}: field '${field}' ${message}`);
    this.ruleIndex = ruleIndex;
    this.field = field;
  }
}

const FIELDS: Record<RuleKind, readonly string[]> = {
  floor: ['kind', 'name', 'metric', 'min'],
  ceiling: ['kind', 'name', 'metric', 'max'],
  change: ['kind', 'name', 'metric', 'mode', 'maxWorsening'],
  slice: ['kind', 'name', 'metric', 'mode', 'maxWorsening', 'minCount', 'slices'],
  finiteScores: ['kind', 'name', 'maxCount'],
  psi: ['kind', 'name', 'max', 'bins'],
  infra: ['kind', 'name', 'budgetMs'],
};
const KINDS = Object.keys(FIELDS) as RuleKind[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value) ?? typeof value;
}

/** Field checks for one rule; each throws a RuleSpecError naming the rule and field. */
class RuleReader {
  constructor(
    readonly index: number,
    readonly rule: Record<string, unknown>,
  ) {}

  fail(field: string, expected: string, found: unknown = this.rule[field]): never {
    throw new RuleSpecError(this.index, field, `expected ${expected}, found ${describe(found)}`);
  }

  number(
    field: string,
    options: { optional?: boolean; integer?: boolean; min?: number; exclusive?: boolean } = {},
  ) {
    const value = this.rule[field];
    if (value === undefined && options.optional) return;
    const what = [
      options.integer ? 'an integer' : 'a finite number',
      options.min === undefined ? '' : options.exclusive ? `> ${options.min}` : `>= ${options.min}`,
    ]
      .filter(Boolean)
      .join(' ');
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, what);
    if (options.integer && !Number.isInteger(value)) this.fail(field, what);
    if (options.min !== undefined && (options.exclusive ? value <= options.min : value < options.min)) {
      this.fail(field, what);
    }
  }

  metric(): void {
    const value = this.rule.metric;
    if (typeof value !== 'string' || !isKnownMetric(value)) {
      this.fail('metric', `a known metric (${KNOWN_METRICS.join(', ')})`);
    }
  }

  oneOf(field: string, allowed: readonly string[]): void {
    const value = this.rule[field];
    if (typeof value !== 'string' || !allowed.includes(value)) {
      this.fail(field, `one of ${allowed.map((item) => `'${item}'`).join(', ')}`);
    }
  }

  sliceSelection(): void {
    const selection = this.rule.slices;
    const expected = "{ keys: ['column=value', ...] } or { column: 'name', busiest: N }";
    if (!isRecord(selection)) this.fail('slices', expected);
    const fields = Object.keys(selection).sort().join(',');
    if (fields === 'keys') {
      const keys = selection.keys;
      if (!Array.isArray(keys) || keys.length === 0)
        this.fail('slices.keys', 'a non-empty array of slice keys', keys);
      for (const key of keys) {
        if (typeof key !== 'string' || !/^[^=]+=/.test(key))
          this.fail('slices.keys', "keys of the form 'column=value'", key);
      }
      return;
    }
    if (fields === 'busiest,column') {
      if (typeof selection.column !== 'string' || selection.column === '' || selection.column.includes('=')) {
        this.fail('slices.column', 'a column name', selection.column);
      }
      const busiest = selection.busiest;
      if (typeof busiest !== 'number' || !Number.isInteger(busiest) || busiest < 1) {
        this.fail('slices.busiest', 'an integer >= 1', busiest);
      }
      return;
    }
    this.fail('slices', expected);
  }
}

function validateRule(index: number, input: unknown): RuleSpec {
  if (!isRecord(input))
    throw new RuleSpecError(index, 'kind', `expected a rule object, found ${describe(input)}`);
  const reader = new RuleReader(index, input);
  const kind = input.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(FIELDS, kind))
    reader.fail('kind', `one of ${KINDS.join(', ')}`);
  const allowed = FIELDS[kind as RuleKind];
  for (const field of Object.keys(input)) {
    if (!allowed.includes(field)) {
      throw new RuleSpecError(
        index,
        field,
        `is not a field of kind '${kind}': expected one of ${allowed.join(', ')}`,
      );
    }
  }
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.trim() === '')) {
    reader.fail('name', 'a non-empty string');
  }
  switch (kind as RuleKind) {
    case 'floor':
      reader.metric();
      reader.number('min');
      break;
    case 'ceiling':
      reader.metric();
      reader.number('max');
      break;
    case 'change':
      reader.metric();
      reader.oneOf('mode', ['absolute', 'relative']);
      reader.number('maxWorsening', { min: 0 });
      break;
    case 'slice':
      reader.metric();
      reader.oneOf('mode', ['absolute', 'relative']);
      reader.number('maxWorsening', { min: 0 });
      reader.number('minCount', { integer: true, min: 0 });
      reader.sliceSelection();
      break;
    case 'finiteScores':
      reader.number('maxCount', { optional: true, integer: true, min: 0 });
      break;
    case 'psi':
      reader.number('max', { min: 0, exclusive: true });
      reader.number('bins', { optional: true, integer: true, min: 2 });
      break;
    case 'infra':
      reader.number('budgetMs', { min: 0, exclusive: true });
      break;
  }
  return input as unknown as RuleSpec;
}

/** The name results carry: the rule's own, or one made of kind and metric ("auc floor"). */
export function ruleName(rule: RuleSpec): string {
  if (rule.name !== undefined) return rule.name;
  switch (rule.kind) {
    case 'floor':
    case 'ceiling':
      return `${rule.metric} ${rule.kind}`;
    case 'change':
      return `${rule.metric} change (${rule.mode})`;
    case 'slice':
      return `${rule.metric} slice change (${rule.mode})`;
    case 'finiteScores':
      return 'finite scores';
    case 'psi':
      return 'score PSI';
    case 'infra':
      return 'infra';
  }
}

/**
 * Checks a list of rule specs and returns it typed. Throws RuleSpecError for the first malformed
 * rule, and for two rules with the same name (results are told apart by name).
 */
export function validateRuleSpecs(input: unknown): RuleSpec[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new ConfigError(`validation rules: expected a non-empty array of rules, found ${describe(input)}`);
  }
  const rules = input.map((rule, index) => validateRule(index, rule));
  const seen = new Map<string, number>();
  rules.forEach((rule, index) => {
    const name = ruleName(rule);
    const first = seen.get(name);
    if (first !== undefined) {
      throw new RuleSpecError(
        index,
        'name',
        `expected a name unique among the rules, found '${name}', as rule ${first} is named`,
      );
    }
    seen.set(name, index);
  });
  return rules;
}

/** A rule on a metric the pipeline's task cannot measure: it would fail every night. */
export class RuleMetricUnavailableError extends ConfigError {
  readonly rule: string;
  readonly metric: string;
  readonly task: TaskType;
  constructor(where: string, rule: string, metric: string, task: TaskType, available: readonly MetricName[]) {
    super(
      `${where} '${rule}': metric '${metric}' is not measured for a ${task} task: expected one of ${available.join(', ')}`,
    );
    this.rule = rule;
    this.metric = metric;
    this.task = task;
  }
}

/**
 * Checks that every rule's metric is one an evaluation of `task` holds (slice rules: per slice,
 * see METRICS_BY_TASK). Throws RuleMetricUnavailableError naming the first rule that is not.
 */
export function checkRulesForTask(rules: readonly RuleSpec[], task: TaskType): void {
  const available = METRICS_BY_TASK[task];
  rules.forEach((rule, index) => {
    if (!('metric' in rule)) return;
    const allowed = rule.kind === 'slice' ? available.slice : available.overall;
    if (!allowed.includes(rule.metric)) {
      throw new RuleMetricUnavailableError(
        `validation rule ${index}`,
        ruleName(rule),
        rule.metric,
        task,
        allowed,
      );
    }
  });
}

/** The monitor's metric (default AUC) must be one the task measures overall. */
export function checkRollbackMetricForTask(metric: MetricName | undefined, task: TaskType): void {
  const allowed = METRICS_BY_TASK[task].overall;
  const chosen = metric ?? 'auc';
  if (!allowed.includes(chosen)) {
    throw new RuleMetricUnavailableError('rollback rule', `${chosen} rollback`, chosen, task, allowed);
  }
}

/**
 * For pipeline files: validates when the pipeline module loads and freezes the result. With the
 * pipeline's `task`, a rule on a metric that task cannot measure fails here too.
 */
export function defineBlessingRules(
  rules: readonly RuleSpec[],
  options: { task?: TaskType } = {},
): readonly RuleSpec[] {
  const checked = validateRuleSpecs(rules);
  if (options.task !== undefined) checkRulesForTask(checked, options.task);
  return Object.freeze(checked.map((rule) => Object.freeze(structuredClone(rule))));
}

import { formatNumber, formatPercent } from '../format.ts';
import { metricDirection, metricLabel, worsening } from '../metrics.ts';
import type { ChangeMode, MetricName } from '../types.ts';
import { exceeds } from './common.ts';

export interface ChangeLimit {
  metric: MetricName;
  mode: ChangeMode;
  maxWorsening: number;
}

export interface ChangeVerdict {
  failed: boolean;
  /** "AUC dropped 0.031 > allowed 0.02" or "log loss fell 3%, allowed rise 2%". */
  sentence: string;
  /** "0.75 -> 0.719": champion then candidate. */
  transition: string;
}

/**
 * The core of change and slice rules. Relative changes are fractions of the champion's value;
 * with a champion at exactly 0 any worsening is infinitely relative and fails.
 */
export function compareWithChampion(limit: ChangeLimit, candidate: number, champion: number): ChangeVerdict {
  const label = metricLabel(limit.metric);
  const higherIsBetter = metricDirection(limit.metric) === 'higherIsBetter';
  const worseWord = higherIsBetter ? 'dropped' : 'rose';
  const betterWord = higherIsBetter ? 'rose' : 'fell';
  const allowedWord = higherIsBetter ? 'drop' : 'rise';
  const absolute = worsening(limit.metric, candidate, champion);
  const amount = limit.mode === 'absolute' ? absolute : absolute === 0 ? 0 : absolute / Math.abs(champion);
  const format = limit.mode === 'absolute' ? formatNumber : formatPercent;
  const allowed = format(limit.maxWorsening);
  const transition = `${formatNumber(champion, candidate)} -> ${formatNumber(candidate, champion)}`;
  if (amount <= 0) {
    const change = amount === 0 ? 'unchanged' : `${betterWord} ${format(-amount)}`;
    return { failed: false, sentence: `${label} ${change}, allowed ${allowedWord} ${allowed}`, transition };
  }
  const failed = exceeds(amount, limit.maxWorsening);
  const sentence = `${label} ${worseWord} ${format(amount, limit.maxWorsening)} ${failed ? '>' : '<='} allowed ${allowed}`;
  return { failed, sentence, transition };
}

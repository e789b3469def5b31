import { describe, expect, it } from 'vitest';
import { evaluateBlessing, type InfraCheck, type RuleSpec } from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

const rule: RuleSpec = { kind: 'infra', budgetMs: 2000 };

function infraResult(infra?: InfraCheck) {
  const blessing = evaluateBlessing({
    rules: [rule],
    candidate: evaluation({}),
    ...(infra ? { infra } : {}),
  });
  return blessing.rules[0];
}

describe('infra rule', () => {
  it('passes an artifact that loaded and scored within the budget', () => {
    expect(infraResult({ loaded: true, latencyMs: 412 })).toEqual({
      rule: 'infra',
      kind: 'infra',
      value: 412,
      threshold: 2000,
      verdict: 'pass',
      reason: 'loaded and scored a sample in 412 ms <= budget 2,000 ms',
    });
  });

  it('fails an artifact over the latency budget, showing the excess', () => {
    expect(infraResult({ loaded: true, latencyMs: 2000.4 })).toMatchObject({
      verdict: 'fail',
      reason: 'loaded and scored a sample in 2,000.4 ms > budget 2,000 ms',
    });
  });

  it('fails an artifact that did not load, with the loader error', () => {
    expect(infraResult({ loaded: false, error: 'checksum mismatch in weights.bin' })).toMatchObject({
      value: null,
      verdict: 'fail',
      reason: 'artifact failed to load: checksum mismatch in weights.bin',
    });
  });

  it('fails when the caller ran no infra check', () => {
    expect(infraResult()).toMatchObject({
      verdict: 'fail',
      reason: 'infra check not run: no load-and-score result supplied',
    });
  });
});

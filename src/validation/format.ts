/** Number formatting for the reasons of rule results: short, but never hiding a verdict. */

/**
 * Up to `decimals` decimals ("0.712", "0.0312"); tiny values in exponent form so that a worsening
 * of 0.00004 does not print as "0". With `comparedTo`, enough digits are kept for the two numbers
 * to print differently when they differ (a drop of 0.0100004 is not "0.01 > allowed 0.01").
 */
export function formatNumber(value: number, comparedTo?: number, decimals = 4): string {
  if (!Number.isFinite(value)) return String(value);
  const short = shortForm(value, decimals);
  if (comparedTo === undefined || value === comparedTo || short !== shortForm(comparedTo, decimals))
    return short;
  return String(Number(value.toPrecision(10)));
}

function shortForm(value: number, decimals: number): string {
  if (value !== 0 && Math.abs(value) < 10 ** -decimals) return value.toExponential(1);
  return String(Number(value.toFixed(decimals)));
}

/** A fraction as a percentage with up to 2 decimals: 0.042553 is "4.26%". */
export function formatPercent(fraction: number, comparedTo?: number): string {
  const against = comparedTo === undefined ? undefined : comparedTo * 100;
  return `${formatNumber(fraction * 100, against, 2)}%`;
}

/** Counts with thousands separators: "1,204". */
export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

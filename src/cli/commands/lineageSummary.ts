import { dayRanges } from '../../data/index.ts';

/**
 * `models show` without --json: a version's lineage in a few lines, however long its window.
 * Two years of daily partitions print as day ranges and counts, not 730 entries of file sums
 * (`--json` keeps them all).
 */
interface LineagePartition {
  date?: unknown;
  files?: { rows?: unknown }[];
}

export function summarizeLineage(lineage: Record<string, unknown>): string[] {
  const partitions = Array.isArray(lineage.partitions) ? (lineage.partitions as LineagePartition[]) : [];
  const days = partitions.map((p) => p.date).filter((d): d is string => typeof d === 'string');
  const files = partitions.reduce((sum, p) => sum + (p.files?.length ?? 0), 0);
  const rows = partitions.reduce(
    (sum, p) => sum + (p.files ?? []).reduce((n, f) => n + (typeof f.rows === 'number' ? f.rows : 0), 0),
    0,
  );
  const ranges = dayRanges(days);
  const shownRanges = ranges.length <= 6 ? ranges : [...ranges.slice(0, 3), '...', ...ranges.slice(-2)];
  const lines = [
    `lineage: dataset ${String(lineage.dataset ?? '?')}, ${days.length} days in ${ranges.length} ` +
      `${ranges.length === 1 ? 'range' : 'ranges'} (${shownRanges.join(', ')}), ` +
      `${files} files, ${rows.toLocaleString('en-US')} rows`,
  ];
  const warm = lineage.warmStartFrom as { model?: string; version?: number } | null | undefined;
  lines.push(
    `  pipeline ${String(lineage.pipeline ?? '?')}, seed ${String(lineage.seed ?? '?')}, backend ${String(lineage.backend ?? '?')}, ` +
      `git ${String(lineage.gitCommit ?? 'unknown')}${warm ? `, warm start from ${warm.model}@${warm.version}` : ''}`,
  );
  const settings = lineage.settings as Record<string, unknown> | undefined;
  if (settings) {
    // The feature spec is long and shown by --json; the training settings fit on a line.
    const { featureSpec: _spec, featuresId, ...training } = settings;
    lines.push(
      `  settings ${JSON.stringify(training)}${featuresId ? `, features ${String(featuresId)}` : ''}`,
    );
  }
  return lines;
}

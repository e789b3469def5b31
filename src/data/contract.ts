import { DataError } from '../errors.ts';
import type { ColumnSchema } from './manifest.ts';

/** Families of DuckDB types a column may have; a spec asks for families, not exact types. */
export type TypeFamily = 'integer' | 'float' | 'string' | 'timestamp' | 'boolean';

const FAMILY_PATTERNS: Record<TypeFamily, RegExp> = {
  integer: /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/,
  float: /^(FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/,
  string: /^VARCHAR$/,
  timestamp: /^(TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|DATE)$/,
  boolean: /^BOOLEAN$/,
};

export function typeFamily(duckdbType: string): TypeFamily | undefined {
  return (Object.keys(FAMILY_PATTERNS) as TypeFamily[]).find((family) =>
    FAMILY_PATTERNS[family].test(duckdbType),
  );
}

/** Column name to the families it may have and who needs it (for the error message). */
export type ColumnRequirements = Map<string, { families: readonly TypeFamily[]; usedBy: string }>;

export function requireColumn(
  requirements: ColumnRequirements,
  column: string,
  families: readonly TypeFamily[],
  usedBy: string,
): void {
  const existing = requirements.get(column);
  if (existing === undefined) {
    requirements.set(column, { families, usedBy });
    return;
  }
  // A column used twice must satisfy both uses.
  const families2 = existing.families.filter((family) => families.includes(family));
  requirements.set(column, { families: families2, usedBy: `${existing.usedBy}, ${usedBy}` });
}

/**
 * Refuses a file whose schema breaks the contract, naming the file, the column, what was
 * expected and what was found. Whole-file problems fail the task: no row of it can be right.
 */
export function checkSchema(
  file: string,
  schema: readonly ColumnSchema[],
  requirements: ColumnRequirements,
): void {
  const types = new Map(schema.map((column) => [column.name, column.type]));
  for (const [column, { families, usedBy }] of requirements) {
    const found = types.get(column);
    const expected = families.join(' or ');
    if (found === undefined) {
      throw new DataError(
        `${file}: missing column '${column}' (expected ${expected}, used by ${usedBy}); found columns ${[...types.keys()].join(', ')}`,
      );
    }
    const family = typeFamily(found);
    if (family === undefined || !families.includes(family)) {
      throw new DataError(
        `${file}: column '${column}' (used by ${usedBy}): expected ${expected}, found ${found}`,
      );
    }
  }
}

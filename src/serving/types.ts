/**
 * The contract between the model holder (which models serve a model name right now, loaded and
 * warmed) and its two users, the Kafka stream scorer and the online predict API. Both hand it
 * raw rows (the dataset's columns, as JSON values) and get back one answer per row; neither
 * knows how features are computed or which version is loaded.
 */

/** The side of a deployment that scored a row. */
export type Arm = 'champion' | 'challenger' | 'shadow';

/** One event's or request's columns by name, as parsed from JSON. */
export type RawRow = Readonly<Record<string, unknown>>;

/** The version that scored a row, and on which arm. */
export interface ServedBy {
  model: string;
  version: number;
  arm: Arm;
}

/** A row the holder could not score: a missing or mistyped column, a value out of contract. */
export interface RowRejection {
  /** Position of the row in the request. */
  index: number;
  /** Names the column, what was expected and what was found. */
  reason: string;
}

/** A served score for one row. */
export interface RowScore extends ServedBy {
  /** Position of the row in the request. */
  index: number;
  /** The entity id (the dataset's id column), which also chose the arm. */
  id: string | bigint;
  score: number;
}

export interface ScoreResult {
  /** One per accepted row, in request order; the arm is champion or challenger. */
  served: RowScore[];
  /** Copies scored by a shadow model: never answered, kept for comparison (`<out>.shadow`). */
  shadow: RowScore[];
  rejected: RowRejection[];
}

/**
 * What the stream scorer and the predict API score with. One call sees one snapshot of the
 * deployment: a hot swap happens between calls, never inside one, so every row of a batch
 * is scored by the version its answer names.
 */
export interface RowScorer {
  score(rows: readonly RawRow[]): Promise<ScoreResult>;
}

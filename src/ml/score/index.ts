export { FEATURES_FILE, inputLayoutOf, targetTransformOf } from './artifactLayout.ts';
export {
  inputFilesOf,
  PREDICTIONS_MANIFEST,
  type PredictionsManifest,
  type ScoreBatchOptions,
  type ScoreBatchResult,
  type ShardJobSpec,
  scoreBatch,
} from './batch.ts';
export { closeIdleScoringPools, scoreShardHere } from './distributed.ts';
export { scoreRowsSharded } from './inMemory.ts';
export { completedShard, type ShardSidecar, shardFiles } from './parquetShard.ts';
export {
  type FileShard,
  type InputFile,
  planRowShards,
  planShards,
  type RowShard,
  type ShardPiece,
  type ShardPlanOptions,
  shardName,
} from './plan.ts';
export { type PoolJob, ScoringPool, type ScoringPoolOptions, ShardFailedError } from './pool.ts';
export {
  describeIncompleteOutput,
  type IncompleteOutput,
  readPredictions,
  type VerifiedPredictions,
} from './predictions.ts';

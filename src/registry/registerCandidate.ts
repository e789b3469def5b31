import type { BackendChoice } from '../ml/backend.ts';
import type { PipelineDefinition } from '../ml/pipeline.ts';
import { saveCandidateArtifact, type TrainedCandidate } from '../ml/trainPipeline.ts';
import type { Store } from '../store/index.ts';
import { currentGitCommit } from './gitCommit.ts';
import { type ModelVersion, registerModelVersion } from './versions.ts';

export interface RegisterCandidateOptions {
  home: string;
  pipeline: PipelineDefinition;
  backend: BackendChoice;
  warmStartFrom?: { model: string; version: number };
  /** The window of days asked for, and the days of it trained without (allowed gaps). */
  window?: { from: string; to: string; missing: string[] };
}

/** Saves a trained candidate's artifact under its new number and registers it with its lineage. */
export async function registerCandidate(
  store: Store,
  candidate: TrainedCandidate,
  options: RegisterCandidateOptions,
): Promise<ModelVersion> {
  const { pipeline } = options;
  const gitCommit = await currentGitCommit();
  const trainingSummary = {
    bestEpoch: candidate.training.bestEpoch,
    stoppedEarly: candidate.training.stoppedEarly,
    trainRows: candidate.training.trainRows,
    validationRows: candidate.training.validationRows,
    samplesPerSecond: candidate.training.samplesPerSecond,
  };
  return registerModelVersion(store, {
    model: pipeline.model.name,
    pipeline: pipeline.name,
    home: options.home,
    metrics: { ...candidate.metrics, training: trainingSummary },
    lineage: {
      pipeline: pipeline.name,
      dataset: pipeline.model.dataset,
      partitions: candidate.partitions,
      seed: candidate.settings.seed,
      backend: options.backend.name,
      gitCommit,
      settings: {
        ...candidate.settings,
        featureSpec: candidate.fitted.spec,
        featuresId: candidate.fitted.id,
      },
      warmStartFrom: options.warmStartFrom ?? null,
      ...(options.window === undefined ? {} : { window: options.window }),
    },
    trainingCurves: candidate.training.curves,
    writeArtifact: (version) =>
      saveCandidateArtifact(options.home, candidate, pipeline.model.name, version, {
        pipeline: pipeline.name,
        backend: options.backend.name,
      }),
  });
}

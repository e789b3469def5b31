import type { JsonObject, TaskContext } from '../dag/types.ts';
import { CHAMPION, getAliases } from '../registry/aliases.ts';
import { promoteVersion } from '../registry/promote.ts';
import type { NightlyPlan } from './nightly.ts';

interface ValidateOutputs {
  model: string;
  candidate: number;
  champion: number | null;
  passed: boolean;
  blessingId: number;
  summary: string;
}

export function dagActor(context: TaskContext): string {
  return `dag:${context.dagId}/run:${context.runId}`;
}

/**
 * Promotes a blessed candidate: champion becomes the candidate and the old one `previous`, in
 * one transaction with the history, fenced by this attempt's lease. Skipped when not blessed.
 */
export function promoteTask(_plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const validated = context.upstream.validate as unknown as ValidateOutputs;
    if (!validated.passed)
      context.skip(`${validated.model}@${validated.candidate} not blessed: ${validated.summary}`);
    const result = await context.transaction((tx) =>
      promoteVersion(tx, {
        model: validated.model,
        version: validated.candidate,
        reason: `blessed (#${validated.blessingId}) on ${context.ds}: ${validated.summary}`,
        actor: dagActor(context),
      }),
    );
    return {
      model: validated.model,
      champion: result.champion,
      previous: result.previous,
      blessingId: validated.blessingId,
    };
  };
}

/** Keeps the champion when the candidate was not blessed; skipped when it was (and promoted). */
export function keepTask(_plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const validated = context.upstream.validate as unknown as ValidateOutputs;
    if (validated.passed) context.skip(`${validated.model}@${validated.candidate} blessed: promoted instead`);
    const champion = (await getAliases(context.store, validated.model))[CHAMPION] ?? null;
    return { model: validated.model, champion, rejected: validated.candidate, reason: validated.summary };
  };
}

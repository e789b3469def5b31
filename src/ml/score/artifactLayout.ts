import type { ArtifactManifest } from '../artifacts.ts';
import { ArtifactError } from '../artifacts.ts';
import type { InputLayout } from '../inputs.ts';
import { TARGET_TRANSFORMS, type TargetMetadata, type TargetTransform } from '../target.ts';

/** The fitted feature stats inside a model artifact, applied unchanged at scoring time. */
export const FEATURES_FILE = 'features.json';

/** Every scorable artifact records how its feature vector feeds the model. */
export function inputLayoutOf(manifest: ArtifactManifest): InputLayout {
  const layout = manifest.metadata.inputLayout as InputLayout | undefined;
  if (layout === undefined || !Array.isArray(layout.numericSlots) || !Array.isArray(layout.categorical)) {
    throw new ArtifactError(
      `${manifest.model}@${manifest.version} manifest.json`,
      'expected metadata.inputLayout (numericSlots, categorical), found none',
    );
  }
  return layout;
}

/**
 * The transform of a regression's target the artifact was trained with (`metadata.target`), which
 * every scorer inverts; undefined for binary models and untransformed targets. An unknown one is
 * refused: scores in the wrong units would look valid.
 */
export function targetTransformOf(manifest: ArtifactManifest): TargetTransform | undefined {
  const target = manifest.metadata.target as TargetMetadata | undefined;
  if (target?.transform === undefined) return undefined;
  if (!TARGET_TRANSFORMS.includes(target.transform)) {
    throw new ArtifactError(
      `${manifest.model}@${manifest.version} manifest.json`,
      `expected metadata.target.transform one of ${TARGET_TRANSFORMS.join(', ')}, found ${JSON.stringify(target.transform)}`,
    );
  }
  return target.transform;
}

import type { ArtifactManifest } from '../artifacts.ts';
import { ArtifactError } from '../artifacts.ts';
import type { InputLayout } from '../inputs.ts';

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

import * as tfl from '@tensorflow/tfjs-layers';
import type { InputLayout } from './inputs.ts';
import { deriveSeed } from './random.ts';

export interface TabularModelOptions {
  seed: number;
  /** Units of the hidden dense layers, e.g. [32, 16]. */
  hidden: number[];
  /** Embedding width per categorical input; default min(8, ceil(cardinality^0.25 * 2)). */
  embeddingDim?: number;
  /** Per-input widths by input name, overriding `embeddingDim`. */
  embeddingDims?: Record<string, number>;
  /** L2 penalty on embedding tables; keeps rare cells (a small airport at 5 am) near zero. */
  embeddingL2?: number;
  /** `sigmoid` for a probability, `linear` for regression. */
  output: 'sigmoid' | 'linear';
}

/**
 * A feed-forward network over an InputLayout: numeric floats plus one embedding per categorical
 * input, concatenated, then dense layers. Every initialiser gets its own seed derived from
 * `seed`, so two builds with the same seed start from bitwise-equal weights.
 */
export function buildTabularModel(layout: InputLayout, options: TabularModelOptions): tfl.LayersModel {
  let stream = 0;
  const nextSeed = () => deriveSeed(options.seed, stream++);
  const inputs: tfl.SymbolicTensor[] = [];
  const parts: tfl.SymbolicTensor[] = [];
  if (layout.numericSlots.length > 0) {
    const numeric = tfl.input({ shape: [layout.numericSlots.length], name: 'numeric' });
    inputs.push(numeric);
    parts.push(numeric);
  }
  for (const categorical of layout.categorical) {
    const input = tfl.input({ shape: [1], dtype: 'int32', name: `${categorical.name}_index` });
    inputs.push(input);
    const dim =
      options.embeddingDims?.[categorical.name] ??
      options.embeddingDim ??
      Math.min(8, Math.ceil(categorical.cardinality ** 0.25 * 2));
    const embedded = tfl.layers
      .embedding({
        inputDim: categorical.cardinality,
        outputDim: dim,
        embeddingsInitializer: tfl.initializers.randomUniform({
          minval: -0.05,
          maxval: 0.05,
          seed: nextSeed(),
        }),
        name: `${categorical.name}_embedding`,
        ...(options.embeddingL2
          ? { embeddingsRegularizer: tfl.regularizers.l2({ l2: options.embeddingL2 }) }
          : {}),
      })
      .apply(input) as tfl.SymbolicTensor;
    parts.push(
      tfl.layers.flatten({ name: `${categorical.name}_flat` }).apply(embedded) as tfl.SymbolicTensor,
    );
  }
  let hidden =
    parts.length === 1
      ? (parts[0] as tfl.SymbolicTensor)
      : (tfl.layers.concatenate({ name: 'features' }).apply(parts) as tfl.SymbolicTensor);
  options.hidden.forEach((units, index) => {
    hidden = tfl.layers
      .dense({
        units,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }),
        name: `hidden_${index + 1}`,
      })
      .apply(hidden) as tfl.SymbolicTensor;
  });
  const output = tfl.layers
    .dense({
      units: 1,
      activation: options.output,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }),
      name: 'score',
    })
    .apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs, outputs: output });
}

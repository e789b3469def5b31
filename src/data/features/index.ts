export {
  type FeatureBatch,
  type FeatureReadOptions,
  type FeatureStream,
  openFeatureStream,
  readFeatures,
  type SliceColumn,
} from './extract.ts';
export { fitFeatures } from './fit.ts';
export {
  type FeatureSlot,
  type FittedFeature,
  type FittedFeatures,
  loadFittedFeatures,
  parseFittedFeatures,
  saveFittedFeatures,
  serializeFittedFeatures,
} from './fitted.ts';
export { type RowRange, rowGroupsOf } from './source.ts';
export * from './spec.ts';
export { DEFAULT_MAX_ERROR_RATE, type FeatureReadReport } from './validate.ts';

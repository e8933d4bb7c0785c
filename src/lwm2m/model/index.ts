export { DdfError, parseDdf, parseRangeEnumeration } from './ddf-parser.js';
export { allows, inRange, type ResourceOperation } from './model-checks.js';
export {
  compareVersions,
  EMPTY_MODEL,
  type Lwm2mModel,
  type ObjectModel,
  type Operations,
  type RangeEnumeration,
  type ResourceModel,
  type ResourceType,
  StaticModel,
} from './object-model.js';
export {
  defaultRegistryDir,
  type LoadFailure,
  ObjectRegistry,
  type ObjectRegistryOptions,
  omaRegistry,
} from './object-registry.js';

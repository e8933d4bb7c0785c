export {
  isResource,
  type Lwm2mMultipleResource,
  type Lwm2mNode,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  type Lwm2mResourceInstance,
  type Lwm2mSingleResource,
  multipleResource,
  object,
  objectInstance,
  resourceInstance,
  singleResource,
} from './lwm2m-node.js';
export { InvalidPathError, Lwm2mPath, type PathLevel, ROOT_PATH } from './lwm2m-path.js';
export {
  INT64_MAX,
  INT64_MIN,
  type Lwm2mValue,
  narrowInteger,
  type ObjectLink,
  timeToSeconds,
  UINT64_MAX,
  Value,
  type ValueType,
  valuesEqual,
} from './lwm2m-value.js';
export {
  type JsonNode,
  type JsonValue,
  nodeFromJson,
  nodeToJson,
  valueFromJson,
  valueToJson,
} from './node-json.js';
export {
  buildNode,
  flattenNode,
  groupByPaths,
  groupByTime,
  type Lwm2mPathValue,
  type NodeShape,
  RELATIVE_TIME_LIMIT,
  resolveTime,
} from './path-value.js';

/**
 * Device profiles for plain MQTT devices (issue 6, DESIGN "MQTT devices get it two ways": 2.):
 * a profile maps the topics a device publishes on, and fields of their JSON payloads, onto
 * resources of the LwM2M object model, e.g. `plant/+/temperature` → `/3303/0/5700`. A mapped
 * value is typed by the object registry and becomes telemetry of that path, like a
 * notification of an LwM2M device; what no mapping takes stays raw telemetry keyed by its topic
 * (`mqtt:<topic>`).
 *
 * A mapping:
 * - `topic`: an MQTT topic filter (`+` and `#` allowed); a level `%d` stands for the device's id.
 * - `path`: a resource or resource-instance path of an object the registry knows.
 * - `field` (optional): a dotted path into a JSON payload (`sensors.0.value`); without it the
 *   whole payload is the value (`21.5` as text or JSON).
 * Every mapping whose topic matches takes its value from the message; one message can feed
 * several resources.
 */

import type { Lwm2mModel } from '../lwm2m/model/object-model.js';
import { InvalidPathError, Lwm2mPath } from '../lwm2m/node/lwm2m-path.js';
import type { Lwm2mValue, ValueType } from '../lwm2m/node/lwm2m-value.js';
import { valueFromJson } from '../lwm2m/node/node-json.js';
import { isValidTopicFilter, topicMatches } from '../mqtt/topic/validate.js';
import type { TelemetryValue } from '../store/ports.js';
import { invalid } from './errors.js';

export interface ProfileMapping {
  readonly topic: string;
  readonly path: string;
  readonly field?: string;
}

export interface ProfileDefinition {
  readonly description?: string;
  readonly mappings: readonly ProfileMapping[];
}

/** A profile's id follows the device id rules: it appears in URLs. */
const PROFILE_ID = /^[A-Za-z0-9][A-Za-z0-9._:@~=-]{0,127}$/;
const MAX_MAPPINGS = 256;
const MAX_FIELD_DEPTH = 8;
/** Larger unmapped payloads are not kept as raw telemetry. */
export const MAX_RAW_PAYLOAD = 16_384;

export function validateProfileId(id: string): void {
  if (!PROFILE_ID.test(id)) {
    throw invalid('id', 'letters, digits and ._:@~=- (up to 128), starting with a letter or digit');
  }
}

/** Checks a profile against MQTT's filter rules and the object model; throws HubError. */
export function validateProfile(definition: ProfileDefinition, model: Lwm2mModel): void {
  const { mappings } = definition;
  if (mappings.length > MAX_MAPPINGS) throw invalid('mappings', `at most ${MAX_MAPPINGS}`);
  mappings.forEach((m, i) => {
    const at = `mappings.${i}`;
    // `%d` is a whole level, replaced by the device id before matching.
    if (!isValidTopicFilter(m.topic.replaceAll('%d', 'x')) || m.topic.startsWith('$')) {
      throw invalid(`${at}.topic`, `'${m.topic}' is not an MQTT topic filter (MQTT 5.0 §4.7)`);
    }
    let path: Lwm2mPath;
    try {
      path = Lwm2mPath.parse(m.path);
    } catch (e) {
      if (e instanceof InvalidPathError) throw invalid(`${at}.path`, e.message);
      throw e;
    }
    if (path.resourceId === undefined) {
      throw invalid(`${at}.path`, `${m.path} is not a resource or resource instance`);
    }
    const resource = model.getResource(path.objectId!, path.resourceId);
    if (!resource) {
      throw invalid(`${at}.path`, `the object registry has no resource ${m.path}`);
    }
    if (resource.type === 'none' || resource.type === 'objlnk') {
      throw invalid(`${at}.path`, `${m.path} is of type ${resource.type}: it holds no value`);
    }
    if (m.field !== undefined) {
      const parts = m.field.split('.');
      if (parts.length > MAX_FIELD_DEPTH || parts.some((p) => p === '')) {
        throw invalid(`${at}.field`, `a dotted path of up to ${MAX_FIELD_DEPTH} names`);
      }
    }
  });
}

export interface MappedValue {
  readonly path: Lwm2mPath;
  readonly value: Lwm2mValue;
}

export interface MappedMessage {
  /** The values mappings took from the message. */
  readonly values: readonly MappedValue[];
  /**
   * The message as raw telemetry (`mqtt:<topic>`) when no mapping took a value from it, or a
   * matching mapping could not; undefined when it was mapped, or too large to keep.
   */
  readonly raw?: TelemetryValue;
}

interface CompiledMapping {
  readonly filter: string;
  readonly deviceLevel: boolean;
  readonly path: Lwm2mPath;
  readonly field: readonly string[] | undefined;
}

/** A profile ready to map messages; build one per profile, not per message. */
export class ProfileMapper {
  readonly #mappings: readonly CompiledMapping[];
  readonly #model: Lwm2mModel;

  constructor(definition: ProfileDefinition, model: Lwm2mModel) {
    this.#model = model;
    this.#mappings = definition.mappings.map((m) => ({
      filter: m.topic,
      deviceLevel: m.topic.includes('%d'),
      path: Lwm2mPath.parse(m.path),
      field: m.field?.split('.'),
    }));
  }

  /** The values of one message that device `deviceId` published on `topic`. */
  map(deviceId: string, topic: string, payload: Buffer): MappedMessage {
    const values: MappedValue[] = [];
    let json: { parsed: unknown } | undefined;
    let text: string | undefined;
    let failed = false;
    for (const m of this.#mappings) {
      const filter = m.deviceLevel ? m.filter.replaceAll('%d', deviceId) : m.filter;
      if (!topicMatches(filter, topic)) continue;
      text ??= payload.toString('utf8');
      // validateProfile let only valued types through.
      const type = this.#model.getResource(m.path.objectId!, m.path.resourceId!)!.type as ValueType;
      let source: unknown;
      if (m.field) {
        json ??= { parsed: parseJson(text) };
        source = pick(json.parsed, m.field);
      } else {
        // The whole payload: JSON when it is JSON (`21.5`, `"on"`, `true`), else the text.
        json ??= { parsed: parseJson(text) };
        source = json.parsed === undefined ? text : json.parsed;
      }
      const value = source === undefined ? undefined : typed(type, source);
      if (value === undefined) failed = true;
      else values.push({ path: m.path, value });
    }
    if (values.length > 0 && !failed) return { values };
    const raw = rawValue(payload);
    return raw === undefined ? { values } : { values, raw };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function pick(json: unknown, field: readonly string[]): unknown {
  let at = json;
  for (const name of field) {
    if (at === null || typeof at !== 'object') return undefined;
    at = Array.isArray(at) ? at[Number(name)] : (at as Record<string, unknown>)[name];
  }
  return at;
}

/** `source` as a value of `type`, accepting text forms of numbers and booleans. */
function typed(type: ValueType, source: unknown): Lwm2mValue | undefined {
  let input = source;
  if (type === 'boolean' && (source === 0 || source === 1 || source === '0' || source === '1')) {
    input = source === 1 || source === '1';
  } else if (type === 'boolean' && (source === 'true' || source === 'false')) {
    input = source === 'true';
  } else if ((type === 'string' || type === 'corelnk') && typeof source === 'number') {
    input = String(source);
  }
  try {
    return valueFromJson(type, input);
  } catch {
    return undefined;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** An unmapped message as telemetry: a JSON scalar as itself, text as text, bytes in base64. */
export function rawValue(payload: Buffer): TelemetryValue | undefined {
  if (payload.length > MAX_RAW_PAYLOAD) return undefined;
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    return `base64:${payload.toString('base64')}`;
  }
  const json = parseJson(text);
  if (typeof json === 'number' || typeof json === 'boolean') return json;
  return text;
}

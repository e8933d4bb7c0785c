import { XMLParser } from 'fast-xml-parser';
import type {
  ObjectModel,
  Operations,
  RangeEnumeration,
  ResourceModel,
  ResourceType,
} from './object-model.js';

/** A DDF file that could not be read as object definitions: which file, and why. */
export class DdfError extends Error {
  override readonly name = 'DdfError';
  readonly code = 'DDF_INVALID';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  // A DDF may hold several <Object> elements and always several <Item> elements.
  isArray: (name) => name === 'Object' || name === 'Item',
});

// LWM2M-v1_1.xsd, element Type: the DDF spelling of each data type.
const TYPES: Record<string, ResourceType> = {
  string: 'string',
  integer: 'integer',
  'unsigned integer': 'unsigned',
  float: 'float',
  boolean: 'boolean',
  opaque: 'opaque',
  time: 'time',
  objlnk: 'objlnk',
  corelnk: 'corelnk',
  '': 'none',
};

const OPERATIONS: Record<string, Operations> = {
  R: 'R',
  W: 'W',
  RW: 'RW',
  E: 'E',
  '': 'NONE',
};

type XmlNode = Record<string, unknown>;

function text(node: XmlNode, key: string, file: string, where: string, required = true): string {
  const v = node[key];
  if (v === undefined || v === null) {
    if (required) throw new DdfError(file, `${where}: missing <${key}>`);
    return '';
  }
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  // An element that carries attributes or comments comes back as an object with #text.
  if (typeof v === 'object' && '#text' in (v as XmlNode))
    return String((v as XmlNode)['#text']).trim();
  if (typeof v === 'object' && Object.keys(v as XmlNode).length === 0) return '';
  throw new DdfError(file, `${where}: <${key}> is not text`);
}

function parseId(raw: string, file: string, where: string): number {
  if (!/^\d{1,5}$/.test(raw)) throw new DdfError(file, `${where}: id "${raw}" is not 0..65535`);
  const id = Number(raw);
  if (id > 65535) throw new DdfError(file, `${where}: id ${id} is not 0..65535`);
  return id;
}

function single(raw: string, file: string, where: string): boolean {
  // LWM2M-v1_1.xsd: MultipleInstances is Single or Multiple.
  if (raw === 'Single') return false;
  if (raw === 'Multiple') return true;
  throw new DdfError(file, `${where}: MultipleInstances "${raw}" is neither Single nor Multiple`);
}

function mandatory(raw: string, file: string, where: string): boolean {
  if (raw === 'Mandatory') return true;
  if (raw === 'Optional') return false;
  throw new DdfError(file, `${where}: Mandatory "${raw}" is neither Mandatory nor Optional`);
}

const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const RANGE = new RegExp(`^(${NUMBER})\\s*\\.\\.\\s*(${NUMBER})\\s*(bytes?)?$`, 'i');

/** Reads the free text of `<RangeEnumeration>`: `0..100`, `0..255 bytes`, `1,2,3`, or prose. */
export function parseRangeEnumeration(raw: string): RangeEnumeration | undefined {
  const s = raw.trim();
  if (s === '') return undefined;
  const m = RANGE.exec(s);
  if (m) {
    return { raw: s, min: Number(m[1]), max: Number(m[2]), unit: m[3] ? 'bytes' : 'value' };
  }
  if (/^[^,;]+([,;][^,;]+)+$/.test(s)) {
    return { raw: s, enumeration: s.split(/[,;]/).map((x) => x.trim()) };
  }
  return { raw: s };
}

function parseResource(item: XmlNode, file: string, objectId: number): ResourceModel {
  const idRaw = item['@_ID'];
  const id = parseId(
    typeof idRaw === 'string' ? idRaw.trim() : String(idRaw),
    file,
    `object ${objectId} resource`,
  );
  const where = `object ${objectId} resource ${id}`;
  const typeRaw = text(item, 'Type', file, where, false);
  const type = TYPES[typeRaw.toLowerCase()];
  if (type === undefined) throw new DdfError(file, `${where}: unknown Type "${typeRaw}"`);
  const opsRaw = text(item, 'Operations', file, where, false).toUpperCase();
  const operations = OPERATIONS[opsRaw];
  if (operations === undefined) {
    throw new DdfError(file, `${where}: unknown Operations "${opsRaw}"`);
  }
  const range = parseRangeEnumeration(text(item, 'RangeEnumeration', file, where, false));
  const units = text(item, 'Units', file, where, false);
  return {
    id,
    name: text(item, 'Name', file, where),
    operations,
    multiple: single(text(item, 'MultipleInstances', file, where), file, where),
    mandatory: mandatory(text(item, 'Mandatory', file, where), file, where),
    type,
    ...(range ? { range } : {}),
    ...(units ? { units } : {}),
    description: text(item, 'Description', file, where, false),
  };
}

function parseObject(obj: XmlNode, file: string): ObjectModel {
  const id = parseId(text(obj, 'ObjectID', file, 'object'), file, 'object');
  const where = `object ${id}`;
  const resources = new Map<number, ResourceModel>();
  const container = obj.Resources;
  const items =
    container && typeof container === 'object' ? ((container as XmlNode).Item ?? []) : [];
  if (!Array.isArray(items)) throw new DdfError(file, `${where}: <Resources> is malformed`);
  const parsed = items.map((item) => parseResource(item as XmlNode, file, id));
  parsed.sort((a, b) => a.id - b.id);
  for (const r of parsed) {
    if (resources.has(r.id)) throw new DdfError(file, `${where}: resource ${r.id} defined twice`);
    resources.set(r.id, r);
  }
  // LwM2M-TS-Core 1.1 §7.2.2: an object without ObjectVersion is version 1.0.
  const version = text(obj, 'ObjectVersion', file, where, false) || '1.0';
  if (!/^\d+\.\d+$/.test(version)) {
    throw new DdfError(file, `${where}: ObjectVersion "${version}" is not major.minor`);
  }
  return {
    id,
    name: text(obj, 'Name', file, where),
    description: text(obj, 'Description1', file, where, false),
    urn: text(obj, 'ObjectURN', file, where, false),
    version,
    lwm2mVersion: text(obj, 'LWM2MVersion', file, where, false) || '1.0',
    multiple: single(text(obj, 'MultipleInstances', file, where), file, where),
    mandatory: mandatory(text(obj, 'Mandatory', file, where), file, where),
    resources,
    source: file,
  };
}

/**
 * Parses one DDF document into its object definitions. Throws `DdfError` naming the file and
 * the reason when the document is not a valid LwM2M object definition.
 */
export function parseDdf(xml: string, file: string): ObjectModel[] {
  let doc: XmlNode;
  try {
    doc = parser.parse(xml, true) as XmlNode;
  } catch (e) {
    throw new DdfError(file, `not well-formed XML: ${(e as Error).message}`);
  }
  const root = doc.LWM2M;
  if (!root || typeof root !== 'object') throw new DdfError(file, 'no <LWM2M> root element');
  const objects = (root as XmlNode).Object;
  if (!Array.isArray(objects) || objects.length === 0) {
    throw new DdfError(file, 'no <Object> element');
  }
  return objects.map((o) => parseObject(o as XmlNode, file));
}

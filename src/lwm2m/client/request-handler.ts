/**
 * The client's side of Device Management, Service Enablement and Information Reporting
 * (LwM2M-TS-Core 1.1 §6.3, §6.4; CoAP mapping LwM2M 1.0 §8.2.4 Table 25, §8.2.5 Table 26,
 * LwM2M-TS-Transport 1.1 §6.4): one CoAP request in, one operation, one response out.
 */
import { Code } from '../../coap/code.js';
import { formatLinkFormat, type Link, link } from '../../coap/link-format.js';
import type { CoapRequest, OutgoingResponse } from '../../coap/request.js';
import { CodecError } from '../codec/codec-error.js';
import { ContentFormat } from '../codec/content-format.js';
import { parseExecuteArguments } from '../codec/execute-arguments.js';
import {
  canDecode,
  canEncode,
  decode,
  decodeComposite,
  decodeCreate,
  encode,
  encodeComposite,
  isCompositeSupported,
} from '../codec/lwm2m-codec.js';
import {
  type Lwm2mNode,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  objectInstance,
} from '../node/lwm2m-node.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import { flattenNode, type Lwm2mPathValue } from '../node/path-value.js';
import { type AttributeStore, parseAttributeQuery } from './attributes.js';
import type { ObjectEnabler } from './object-enabler.js';
import type { NotificationSink, ObserveManager } from './observe-manager.js';
import { type ObjectTree, readable, writable } from './tree.js';

export interface HandlerContext {
  readonly tree: ObjectTree;
  readonly attributes: AttributeStore;
  readonly observations: ObserveManager;
  /** The LwM2M version the client speaks (`1.0`, `1.1`, `1.2`). */
  readonly version: string;
  /** Format of answers when the server sends no Accept. */
  readonly defaultFormat: number;
  /** Registers the request as an observation (RFC 7641 §4.1); call before answering. */
  acceptObserve(request: CoapRequest): NotificationSink;
  /** Something was created or deleted at `path`. */
  changed(path: Lwm2mPath): void;
}

const codeText = (code: number, reason?: string): OutgoingResponse =>
  reason ? { code, payload: reason } : { code };

const codeOfCodec = (e: CodecError): number => {
  const [c, d] = e.coapCode.split('.');
  return (Number(c) << 5) | Number(d);
};

const atLeast11 = (v: string) => Number(v) >= 1.1;

/** Handles one request from the server. */
export function handleClientRequest(ctx: HandlerContext, request: CoapRequest): OutgoingResponse {
  const path = Lwm2mPath.tryParse(`/${request.path.join('/')}`);
  // LwM2M-TS-Core 1.1 §6.3: a path that is not an LwM2M path does not exist here.
  if (!path) return { code: Code.NotFound };
  switch (request.method) {
    case Code.Get:
      if (path.isRoot()) return { code: Code.MethodNotAllowed };
      if (request.accept === ContentFormat.LINK) return discover(ctx, path);
      if (request.observe === 0) return observe(ctx, request, path);
      return read(ctx, path, request.accept);
    case Code.Put:
      if (path.isRoot()) return { code: Code.MethodNotAllowed };
      // LwM2M 1.0 §8.2.4 Table 25: Write-Attributes is a PUT with a query and no payload.
      if (request.payload.length === 0 && request.contentFormat === undefined) {
        return writeAttributes(ctx, path, request.query);
      }
      return write(ctx, path, request, true);
    case Code.Post:
      if (path.isObject()) return create(ctx, path, request);
      if (path.isObjectInstance()) return write(ctx, path, request, false);
      if (path.isResource()) {
        // LwM2M-TS-Transport 1.1 §6.4: a POST with a Content-Format on a writable resource is a
        // partial update (1.1); otherwise a POST on a resource is Execute.
        const rm = ctx.tree.model.getResource(path.objectId!, path.resourceId!);
        if (request.contentFormat !== undefined && writable(rm) && atLeast11(ctx.version)) {
          return write(ctx, path, request, false);
        }
        return execute(ctx, path, request);
      }
      return { code: Code.MethodNotAllowed };
    case Code.Delete:
      // LwM2M-TS-Core 1.1 §6.3.7: Delete targets an object instance.
      if (!path.isObjectInstance()) return { code: Code.MethodNotAllowed };
      return remove(ctx, path);
    case Code.Fetch:
      // LwM2M-TS-Core 1.1 §6.3.8, §6.4.3: Read-Composite and Observe-Composite, 1.1 and later.
      if (!path.isRoot() || !atLeast11(ctx.version)) return { code: Code.MethodNotAllowed };
      return readComposite(ctx, request);
    case Code.IPatch:
      // LwM2M-TS-Core 1.1 §6.3.9: Write-Composite, 1.1 and later.
      if (!path.isRoot() || !atLeast11(ctx.version)) return { code: Code.MethodNotAllowed };
      return writeComposite(ctx, request);
    default:
      return { code: Code.MethodNotAllowed };
  }
}

/** The format of an answer: the Accept option, else the client's default. */
function answerFormat(ctx: HandlerContext, accept: number | undefined, path: Lwm2mPath): number {
  if (accept !== undefined) return accept;
  // LwM2M-TS-Core 1.0 §6.4: a single value may go as text/plain; others in the default.
  if (
    ctx.defaultFormat === ContentFormat.TEXT &&
    !path.isResource() &&
    !path.isResourceInstance()
  ) {
    return ContentFormat.TLV;
  }
  return ctx.defaultFormat;
}

/** Encodes a node for an answer; 4.06 when the format cannot carry it. */
export function encodeAnswer(
  ctx: HandlerContext,
  node: Lwm2mNode,
  path: Lwm2mPath,
  accept: number | undefined,
): OutgoingResponse {
  const format = answerFormat(ctx, accept, path);
  // LwM2M-TS-Core 1.1 §6.3.1: an Accept the client cannot produce is answered 4.06.
  if (!canEncode(format)) return codeText(Code.NotAcceptable, `cannot encode format ${format}`);
  try {
    return {
      code: Code.Content,
      contentFormat: format,
      payload: encode(node, format, path, ctx.tree.model),
    };
  } catch (e) {
    if (e instanceof CodecError) {
      return codeText(
        e.code === 'NOT_ACCEPTABLE' ? Code.NotAcceptable : Code.InternalServerError,
        e.message,
      );
    }
    throw e;
  }
}

function read(ctx: HandlerContext, path: Lwm2mPath, accept: number | undefined): OutgoingResponse {
  const r = ctx.tree.read(path);
  if (!r.value) return codeText(r.code, r.reason);
  return encodeAnswer(ctx, r.value, path, accept);
}

function observe(ctx: HandlerContext, request: CoapRequest, path: Lwm2mPath): OutgoingResponse {
  const first = read(ctx, path, request.accept);
  if (first.code !== Code.Content) return first;
  const accept = request.accept;
  const sink = ctx.acceptObserve(request);
  ctx.observations.add([path], false, sink, () => read(ctx, path, accept));
  return first;
}

/** Discover (LwM2M-TS-Core 1.1 §6.3.2): links with their attributes. */
function discover(ctx: HandlerContext, path: Lwm2mPath): OutgoingResponse {
  const o = ctx.tree.object(path.objectId!);
  if (!o.value) return codeText(o.code, o.reason);
  const obj = o.value;
  const links: Link[] = [];
  const add = (p: Lwm2mPath, extra: Record<string, string> = {}) =>
    links.push(link(p.toString(), { ...ctx.attributes.linkParams(p), ...extra }));
  const addInstance = (id: number, withResources: boolean) => {
    const ip = new Lwm2mPath(obj.id, id);
    add(ip);
    if (!withResources) return;
    const inst = obj.instances.get(id)!;
    for (const rid of inst.resourceIds()) {
      const rp = ip.append(rid);
      const r = inst.read(rid);
      // LwM2M-TS-Core 1.1 §6.3.2: a multiple resource shows its number of instances (dim).
      const dim: Record<string, string> =
        r?.kind === 'multiple-resource' ? { dim: String(r.instances.size) } : {};
      add(rp, dim);
    }
  };
  if (path.isObject()) {
    // LwM2M-TS-Core 1.1 §6.3.2: the object (with its version when not 1.0), its instances
    // and their resources.
    links.push(
      link(path.toString(), {
        ...(obj.model.version !== '1.0' ? { ver: obj.model.version } : {}),
        ...ctx.attributes.linkParams(path),
      }),
    );
    for (const id of obj.instanceIds()) addInstance(id, true);
  } else {
    const i = ctx.tree.instance(path);
    if (!i.value) return codeText(i.code, i.reason);
    if (path.isObjectInstance()) addInstance(path.instanceId!, true);
    else if (path.isResource()) {
      if (!i.value.resourceIds().includes(path.resourceId!)) return { code: Code.NotFound };
      const r = i.value.read(path.resourceId!);
      add(path, r?.kind === 'multiple-resource' ? { dim: String(r.instances.size) } : {});
    } else return { code: Code.MethodNotAllowed };
  }
  return {
    code: Code.Content,
    contentFormat: ContentFormat.LINK,
    payload: formatLinkFormat(links),
  };
}

function writeAttributes(
  ctx: HandlerContext,
  path: Lwm2mPath,
  query: readonly string[],
): OutgoingResponse {
  const changes = parseAttributeQuery(query, ctx.version);
  if (typeof changes === 'string') return codeText(Code.BadRequest, changes);
  // The path must exist: an object, an instance or a resource of ours.
  if (path.isObject()) {
    const o = ctx.tree.object(path.objectId!);
    if (!o.value) return codeText(o.code, o.reason);
  } else {
    const i = ctx.tree.instance(path);
    if (!i.value) return codeText(i.code, i.reason);
    if (path.segments.length >= 3) {
      if (!i.value.resourceIds().includes(path.resourceId!)) return { code: Code.NotFound };
      const rm = ctx.tree.model.getResource(path.objectId!, path.resourceId!);
      const numeric = rm && ['integer', 'unsigned', 'float'].includes(rm.type);
      // LwM2M-TS-Core 1.1 §5.1.2: gt, lt and st are for numeric resources.
      if (!numeric && (changes.gt != null || changes.lt != null || changes.st != null)) {
        return codeText(Code.BadRequest, `${path} is not numeric`);
      }
      // LwM2M-TS-Core 1.2 §5.1.2: edge is for boolean resources.
      if (changes.edge != null && rm?.type !== 'boolean') {
        return codeText(Code.BadRequest, `${path} is not boolean`);
      }
    }
  }
  const problem = ctx.attributes.apply(path, changes);
  if (problem) return codeText(Code.BadRequest, problem);
  ctx.observations.attributesChanged();
  return { code: Code.Changed };
}

/** Decodes a request payload at `path`; an error response when it cannot. */
function decodePayload(
  ctx: HandlerContext,
  request: CoapRequest,
  path: Lwm2mPath,
): { node: Lwm2mNode } | { error: OutgoingResponse } {
  const format =
    request.contentFormat ??
    // A resource written without Content-Format is read as text/plain (RFC 7252 §5.5.2).
    (path.isResource() || path.isResourceInstance() ? ContentFormat.TEXT : undefined);
  if (format === undefined) return { error: codeText(Code.BadRequest, 'no Content-Format') };
  // LwM2M-TS-Core 1.1 §6.3.3: a format the client does not support is answered 4.15.
  if (!canDecode(format)) return { error: { code: Code.UnsupportedContentFormat } };
  try {
    return { node: decode(request.payload, format, path, ctx.tree.model) };
  } catch (e) {
    if (e instanceof CodecError) {
      // LwM2M-TS-Core 1.1 §6.3.3: a payload that does not decode is answered 4.00.
      return { error: codeText(codeOfCodec(e), e.message) };
    }
    throw e;
  }
}

/** Write, replace (PUT) or partial update (POST) (LwM2M-TS-Core 1.1 §6.3.3). */
function write(
  ctx: HandlerContext,
  path: Lwm2mPath,
  request: CoapRequest,
  replace: boolean,
): OutgoingResponse {
  if (path.isObject()) return { code: Code.MethodNotAllowed };
  const i = ctx.tree.instance(path);
  if (!i.value) return codeText(i.code, i.reason);
  const instance = i.value;
  const model = ctx.tree.objects.get(path.objectId!)!.model;
  if (path.segments.length >= 3) {
    const rm = model.resources.get(path.resourceId!);
    if (!rm) return { code: Code.NotFound };
    // LwM2M-TS-Core 1.1 §6.3.3: a resource that is not writable answers 4.05.
    if (!writable(rm)) return codeText(Code.MethodNotAllowed, `${path} is not writable`);
  }
  const decoded = decodePayload(ctx, request, path);
  if ('error' in decoded) return decoded.error;
  const node = decoded.node;
  if (node.kind === 'object-instance') {
    for (const r of node.resources.values()) {
      const rm = model.resources.get(r.id);
      if (!rm) return codeText(Code.NotFound, `no resource ${r.id}`);
      if (!writable(rm)) return codeText(Code.MethodNotAllowed, `resource ${r.id} is not writable`);
    }
    if (replace) {
      // LwM2M-TS-Core 1.1 §6.3.3 (Replace): writable resources not in the payload go away.
      for (const rid of instance.resourceIds()) {
        const rm = model.resources.get(rid);
        if (writable(rm) && !readable(rm)) continue;
        if (writable(rm) && !node.resources.has(rid) && !rm?.mandatory) instance.remove(rid);
      }
    }
    for (const r of node.resources.values()) {
      const code = instance.write(r);
      if (code !== Code.Changed) return { code };
    }
    return { code: Code.Changed };
  }
  if (node.kind === 'resource-instance') {
    const current = instance.read(path.resourceId!);
    const map = new Map(current?.kind === 'multiple-resource' ? current.instances : []);
    map.set(node.id, node);
    const rm = model.resources.get(path.resourceId!)!;
    const type = node.value.type;
    return { code: instance.write({ kind: 'multiple-resource', id: rm.id, type, instances: map }) };
  }
  if (node.kind === 'multiple-resource' && !replace) {
    // LwM2M-TS-Core 1.1 §6.3.3: a partial update of a multiple resource adds or replaces the
    // instances sent and keeps the others.
    const current = instance.read(path.resourceId!);
    const map = new Map(current?.kind === 'multiple-resource' ? current.instances : []);
    for (const [id, ri] of node.instances) map.set(id, ri);
    return { code: instance.write({ ...node, instances: map }) };
  }
  if (node.kind === 'object') return { code: Code.BadRequest };
  return { code: instance.write(node as Lwm2mResource) };
}

/** Execute (LwM2M-TS-Core 1.1 §6.3.5). */
function execute(ctx: HandlerContext, path: Lwm2mPath, request: CoapRequest): OutgoingResponse {
  const i = ctx.tree.instance(path);
  if (!i.value) return codeText(i.code, i.reason);
  const rm = ctx.tree.model.getResource(path.objectId!, path.resourceId!);
  if (!rm || !i.value.resourceIds().includes(path.resourceId!)) return { code: Code.NotFound };
  // LwM2M-TS-Core 1.1 §6.3.5: a resource that is not executable answers 4.05.
  if (rm.operations !== 'E') return codeText(Code.MethodNotAllowed, `${path} is not executable`);
  try {
    const args = parseExecuteArguments(request.payload);
    return { code: i.value.execute(path.resourceId!, args) };
  } catch (e) {
    // LwM2M-TS-Core 1.1 §5.4.5: arguments that do not follow the grammar are a bad request.
    if (e instanceof CodecError) return codeText(Code.BadRequest, e.message);
    throw e;
  }
}

/** Create (LwM2M-TS-Core 1.1 §6.3.6). */
function create(ctx: HandlerContext, path: Lwm2mPath, request: CoapRequest): OutgoingResponse {
  const o = ctx.tree.object(path.objectId!);
  if (!o.value) return codeText(o.code, o.reason);
  const obj = o.value;
  if (!obj.canCreate)
    return codeText(Code.MethodNotAllowed, `object ${obj.id} has a fixed set of instances`);
  const format = request.contentFormat;
  if (format === undefined) return codeText(Code.BadRequest, 'no Content-Format');
  // LwM2M-TS-Core 1.1 §6.3.6: a format the client does not support is answered 4.15.
  if (!canDecode(format)) return { code: Code.UnsupportedContentFormat };
  let instances: { id: number | undefined; resources: ReadonlyMap<number, Lwm2mResource> }[];
  try {
    // LwM2M 1.0 §5.4.5: in TLV the resources may come alone; the client then picks the ID.
    instances = decodeCreate(request.payload, format, path, ctx.tree.model);
  } catch (e) {
    if (e instanceof CodecError) return codeText(codeOfCodec(e), e.message);
    throw e;
  }
  if (instances.length !== 1)
    return codeText(Code.BadRequest, 'a Create carries one object instance');
  const first = instances[0]!;
  const created = { id: first.id ?? obj.freeInstanceId(), resources: first.resources };
  // LwM2M-TS-Core 1.1 §6.3.6: creating an existing instance is a bad request.
  if (obj.instances.has(created.id))
    return codeText(Code.BadRequest, `/${obj.id}/${created.id} exists`);
  if (created.id === 65535) return codeText(Code.BadRequest, 'instance ID 65535 is reserved');
  if (!obj.model.multiple && obj.instances.size > 0) {
    return codeText(Code.BadRequest, `object ${obj.id} is single-instance`);
  }
  for (const r of created.resources.values()) {
    if (!obj.model.resources.has(r.id)) return codeText(Code.NotFound, `no resource ${r.id}`);
  }
  const instance = obj.newInstance(created.id)!;
  // The Create may set resources the server cannot write later (read-only ones).
  for (const r of created.resources.values()) {
    const code = instance.write(r);
    if (code !== Code.Changed) return { code };
  }
  obj.add(instance);
  ctx.changed(new Lwm2mPath(obj.id, created.id));
  return { code: Code.Created, locationPath: [String(obj.id), String(created.id)] };
}

function remove(ctx: HandlerContext, path: Lwm2mPath): OutgoingResponse {
  const o = ctx.tree.object(path.objectId!);
  if (!o.value) return codeText(o.code, o.reason);
  const code = (o.value as ObjectEnabler).delete(path.instanceId!);
  if (code === Code.Deleted) {
    ctx.attributes.forget(path);
    ctx.changed(path);
  }
  return { code };
}

/** Read-Composite and Observe-Composite (LwM2M-TS-Core 1.1 §6.3.8, §6.4.3). */
function readComposite(ctx: HandlerContext, request: CoapRequest): OutgoingResponse {
  const format = request.contentFormat;
  if (format === undefined || !isCompositeSupported(format))
    return { code: Code.UnsupportedContentFormat };
  const accept = request.accept ?? format;
  if (!isCompositeSupported(accept)) return { code: Code.NotAcceptable };
  let paths: Lwm2mPath[];
  try {
    paths = decodeComposite(request.payload, format, ctx.tree.model).map((e) => e.path);
  } catch (e) {
    if (e instanceof CodecError) return codeText(codeOfCodec(e), e.message);
    throw e;
  }
  if (paths.length === 0) return codeText(Code.BadRequest, 'no path');
  const render = (): OutgoingResponse => {
    const values: Lwm2mPathValue[] = [];
    for (const p of paths) {
      if (p.isRoot()) return { code: Code.BadRequest };
      const r = ctx.tree.read(p);
      // LwM2M-TS-Core 1.1 §6.3.8: paths that do not exist are left out of the answer.
      if (r.value) values.push(...flattenNode(r.value, p));
      else if (r.code !== Code.NotFound) return codeText(r.code, r.reason);
    }
    if (values.length === 0) return { code: Code.NotFound };
    try {
      return {
        code: Code.Content,
        contentFormat: accept,
        payload: encodeComposite(values, accept, ctx.tree.model),
      };
    } catch (e) {
      if (e instanceof CodecError) return codeText(Code.NotAcceptable, e.message);
      throw e;
    }
  };
  const first = render();
  if (request.observe === 0 && first.code === Code.Content) {
    const sink = ctx.acceptObserve(request);
    ctx.observations.add(paths, true, sink, render);
  }
  return first;
}

/** Write-Composite (LwM2M-TS-Core 1.1 §6.3.9): all entries checked first, then written. */
function writeComposite(ctx: HandlerContext, request: CoapRequest): OutgoingResponse {
  const format = request.contentFormat;
  if (format === undefined || !isCompositeSupported(format))
    return { code: Code.UnsupportedContentFormat };
  let values: Lwm2mPathValue[];
  try {
    values = decodeComposite(request.payload, format, ctx.tree.model);
  } catch (e) {
    if (e instanceof CodecError) return codeText(codeOfCodec(e), e.message);
    throw e;
  }
  const writes: { path: Lwm2mPath; value: NonNullable<Lwm2mPathValue['value']> }[] = [];
  for (const v of values) {
    if (!v.path.isResource() && !v.path.isResourceInstance())
      return codeText(Code.BadRequest, `${v.path}`);
    if (v.value === undefined) return codeText(Code.BadRequest, `${v.path} has no value`);
    const i = ctx.tree.instance(v.path);
    if (!i.value) return codeText(i.code, i.reason);
    const rm = ctx.tree.model.getResource(v.path.objectId!, v.path.resourceId!);
    if (!rm) return codeText(Code.NotFound, `${v.path}`);
    if (!writable(rm)) return codeText(Code.MethodNotAllowed, `${v.path} is not writable`);
    writes.push({ path: v.path, value: v.value });
  }
  for (const w of writes) {
    const instance = ctx.tree.instance(w.path).value!;
    let resource: Lwm2mResource;
    if (w.path.isResource())
      resource = { kind: 'single-resource', id: w.path.resourceId!, value: w.value };
    else {
      const current = instance.read(w.path.resourceId!);
      const map = new Map(current?.kind === 'multiple-resource' ? current.instances : []);
      map.set(w.path.resourceInstanceId!, {
        kind: 'resource-instance',
        id: w.path.resourceInstanceId!,
        value: w.value,
      });
      resource = {
        kind: 'multiple-resource',
        id: w.path.resourceId!,
        type: w.value.type,
        instances: map,
      };
    }
    const code = instance.write(resource);
    if (code !== Code.Changed) return { code };
  }
  return { code: Code.Changed };
}

/** An instance node with every readable resource, for Send and tests. */
export function instanceNode(obj: ObjectEnabler, id: number): Lwm2mObjectInstance | undefined {
  const inst = obj.instances.get(id);
  if (!inst) return undefined;
  return objectInstance(
    id,
    inst
      .resourceIds()
      .filter((r) => readable(obj.model.resources.get(r)))
      .map((r) => inst.read(r))
      .filter((r): r is Lwm2mResource => r !== undefined),
  );
}

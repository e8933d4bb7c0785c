/**
 * What the Bootstrap-Server learns of a client before it writes: the Bootstrap-Discover answer
 * (LwM2M-TS-Core 1.1 §5.2.7.3: the enabler version on `</>`, the objects and instances with
 * `ssid=` on the Security and Server instances) and the Server object instances that a
 * Bootstrap-Read of /1 returns (§5.2.7.4); and from both, the instance IDs each configured
 * account is written to.
 */
import { parseLinkFormat } from '../../coap/link-format.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import type { ServerAccount } from './config.js';

export const SECURITY_OBJECT = 0;
export const SERVER_OBJECT = 1;
export const ACL_OBJECT = 2;
export const OSCORE_OBJECT = 21;

export interface DiscoveredClient {
  /** The enabler version on `</>;lwm2m=` (LwM2M 1.1 and later), '1.0' without one. */
  readonly version: string;
  /** The objects the client listed (`</21>` or any instance of it). */
  readonly objects: ReadonlySet<number>;
  /** The instance IDs of each listed object. */
  readonly instances: ReadonlyMap<number, ReadonlySet<number>>;
  /** `ssid=` of Security and Server instances, by `object/instance` (`0/1`). */
  readonly ssids: ReadonlyMap<string, number>;
}

/** A 1.0 client that refused Bootstrap-Discover: nothing is known. */
export const UNKNOWN_CLIENT: DiscoveredClient = {
  version: '1.0',
  objects: new Set(),
  instances: new Map(),
  ssids: new Map(),
};

/** Parses a Bootstrap-Discover answer; undefined when it is not CoRE link format. */
export function parseBootstrapDiscover(payload: Buffer): DiscoveredClient | undefined {
  const parsed = parseLinkFormat(payload);
  if (!parsed.ok) return undefined;
  let version = '1.0';
  const objects = new Set<number>();
  const instances = new Map<number, Set<number>>();
  const ssids = new Map<string, number>();
  for (const link of parsed.links) {
    const lwm2m = link.attributes.lwm2m;
    // LwM2M-TS-Core 1.1 §5.2.7.3: the root link carries the client's enabler version.
    if (link.uri === '/' && typeof lwm2m === 'string' && /^\d+\.\d+$/.test(lwm2m)) {
      version = lwm2m;
      continue;
    }
    const m = /^\/(\d{1,5})(?:\/(\d{1,5}))?$/.exec(link.uri);
    if (!m) continue;
    const objectId = Number(m[1]);
    objects.add(objectId);
    if (m[2] === undefined) continue;
    const instanceId = Number(m[2]);
    const ids = instances.get(objectId) ?? new Set<number>();
    instances.set(objectId, ids.add(instanceId));
    const ssid = link.attributes.ssid;
    if (typeof ssid === 'string' && /^\d{1,5}$/.test(ssid)) {
      ssids.set(`${objectId}/${instanceId}`, Number(ssid));
    }
  }
  return { version, objects, instances, ssids };
}

/** True from LwM2M 1.1 on: Bootstrap-Read and the OSCORE object exist (TS-Core 1.1 §5.2.7.4). */
export function hasBootstrapRead(version: string): boolean {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  return major > 1 || (major === 1 && minor >= 1);
}

/** A Server object instance the client has, as a Bootstrap-Read of /1 returned it. */
export interface ExistingServer {
  readonly instanceId: number;
  readonly shortServerId?: number;
  readonly lifetime?: number;
  readonly binding?: string;
}

/** The Server object instances in a Bootstrap-Read answer of /1 (LwM2M 1.0 Appendix E.2). */
export function existingServers(node: Lwm2mNode): ExistingServer[] {
  if (node.kind !== 'object') return [];
  const out: ExistingServer[] = [];
  for (const instance of node.instances.values()) {
    const single = (id: number) => {
      const r = instance.resources.get(id);
      return r?.kind === 'single-resource' ? r.value.value : undefined;
    };
    const ssid = single(0);
    const lifetime = single(1);
    const binding = single(7);
    out.push({
      instanceId: instance.id,
      ...(ssid !== undefined ? { shortServerId: Number(ssid) } : {}),
      ...(lifetime !== undefined ? { lifetime: Number(lifetime) } : {}),
      ...(typeof binding === 'string' ? { binding } : {}),
    });
  }
  return out;
}

/** Where one account is written: its Security, Server and (with OSCORE) OSCORE instance. */
export interface PlannedAccount {
  readonly account: ServerAccount;
  readonly securityInstance: number;
  readonly serverInstance: number;
  readonly oscoreInstance?: number;
}

/**
 * The instance IDs of each account. After a Bootstrap-Delete of `/` only the Bootstrap-Server
 * account stays (LwM2M 1.0 §5.2.7.5: its Security instance, listed without `ssid`, and in 1.1
 * its OSCORE instance); without the Delete every instance stays, and an account whose Short
 * Server ID the client has already replaces that account's instances instead of adding a second
 * account with the same ID (which the client would refuse at Bootstrap-Finish, TS-Core 1.1
 * §6.1.7.3). OSCORE instances are never reused: the one of the Bootstrap-Server account cannot
 * be told apart (Bootstrap-Read of the Security object is not allowed, §5.2.7.4).
 */
export function planAccounts(
  accounts: readonly ServerAccount[],
  client: DiscoveredClient,
  servers: readonly ExistingServer[],
  deleteFirst: boolean,
): PlannedAccount[] {
  const ids = (objectId: number) => client.instances.get(objectId) ?? new Set<number>();
  const used = {
    security: new Set(
      [...ids(SECURITY_OBJECT)].filter(
        (i) => !deleteFirst || !client.ssids.has(`${SECURITY_OBJECT}/${i}`),
      ),
    ),
    server: new Set(
      deleteFirst ? [] : [...ids(SERVER_OBJECT), ...servers.map((s) => s.instanceId)],
    ),
    oscore: new Set(ids(OSCORE_OBJECT)),
  };
  const instanceWithSsid = (objectId: number, ssid: number): number | undefined => {
    if (deleteFirst) return undefined;
    for (const [key, value] of client.ssids) {
      const [o, i] = key.split('/').map(Number) as [number, number];
      if (o === objectId && value === ssid) return i;
    }
    if (objectId === SERVER_OBJECT) {
      return servers.find((s) => s.shortServerId === ssid)?.instanceId;
    }
    return undefined;
  };
  const free = (taken: Set<number>, preferred?: number) => {
    let id = preferred !== undefined && !taken.has(preferred) ? preferred : 0;
    while (taken.has(id)) id++;
    taken.add(id);
    return id;
  };
  return accounts.map((account) => {
    const securityInstance =
      instanceWithSsid(SECURITY_OBJECT, account.shortServerId) ?? free(used.security);
    const serverInstance =
      instanceWithSsid(SERVER_OBJECT, account.shortServerId) ?? free(used.server, securityInstance);
    used.security.add(securityInstance);
    used.server.add(serverInstance);
    return {
      account,
      securityInstance,
      serverInstance,
      ...(account.oscore ? { oscoreInstance: free(used.oscore) } : {}),
    };
  });
}

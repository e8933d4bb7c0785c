import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import { DdfError, parseDdf } from './ddf-parser.js';
import { compareVersions, type Lwm2mModel, type ObjectModel } from './object-model.js';

/** The vendored OMA registry, `registry/lwm2m/` under the package root. */
export function defaultRegistryDir(): string {
  return join(packageRoot(), 'registry', 'lwm2m');
}

export interface ObjectRegistryOptions {
  /** Load the vendored OMA objects (default true). */
  readonly oma?: boolean;
  /** Directory of the vendored OMA objects (default `registry/lwm2m` under the package root). */
  readonly omaDir?: string;
  /**
   * Directories of user DDF files (every `*.xml` in them), loaded after the OMA objects: a
   * user definition with the id and version of a vendored one replaces it, another version
   * sits beside it.
   */
  readonly userDirs?: readonly string[];
}

/** A DDF file that failed to load; the other files still load. */
export interface LoadFailure {
  readonly file: string;
  readonly reason: string;
}

/**
 * Every known object definition, several versions of one object side by side.
 * Files load on first use (about 327 OMA files); `load()` forces it and reports failures.
 */
export class ObjectRegistry {
  readonly #options: ObjectRegistryOptions;
  /** object id → definitions sorted by ascending version. */
  #objects: Map<number, ObjectModel[]> | undefined;
  #failures: LoadFailure[] = [];
  #extra: ObjectModel[] = [];
  /** Device models by the versions they pin (see modelFor). */
  readonly #models = new Map<string, Lwm2mModel>();

  constructor(options: ObjectRegistryOptions = {}) {
    this.#options = options;
  }

  /** Loads every file now (if not yet loaded) and returns the files that failed. */
  load(): readonly LoadFailure[] {
    this.#ensure();
    return this.#failures;
  }

  /** Files that failed to load, each with its file name and reason. */
  get failures(): readonly LoadFailure[] {
    this.#ensure();
    return this.#failures;
  }

  /** Adds definitions directly (tests, objects from a config), replacing the same id+version. */
  add(...objects: ObjectModel[]): void {
    if (this.#objects) for (const o of objects) this.#put(this.#objects, o);
    else this.#extra.push(...objects);
    // Models resolve objects on each look-up, but which version a model pins may change.
    this.#models.clear();
  }

  /** Parses one DDF document and adds its objects; throws DdfError if it is invalid. */
  addDdf(xml: string, file: string): ObjectModel[] {
    const objects = parseDdf(xml, file);
    this.add(...objects);
    return objects;
  }

  /** The definition of `id` at `version`, or the highest version when none is asked. */
  get(id: number, version?: string): ObjectModel | undefined {
    const versions = this.#ensure().get(id);
    if (!versions) return undefined;
    if (version === undefined) return versions[versions.length - 1];
    return versions.find((o) => compareVersions(o.version, version) === 0);
  }

  /** Every version known of `id`, ascending. */
  versions(id: number): readonly ObjectModel[] {
    return this.#ensure().get(id) ?? [];
  }

  /** The highest version of every known object, by ascending id. */
  all(): ObjectModel[] {
    const out: ObjectModel[] = [];
    for (const versions of this.#ensure().values()) {
      const last = versions[versions.length - 1];
      if (last) out.push(last);
    }
    return out.sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.#ensure().size;
  }

  /**
   * The model of one device: the versions it announced (object id → `ver=` value, as in its
   * registration links) and the highest version of any other object. An announced version
   * that is unknown falls back to the highest known version. Devices that announce the same
   * versions share one model object (100,000 devices of one kind cost one model).
   */
  modelFor(versions: ReadonlyMap<number, string> = new Map()): Lwm2mModel {
    // Only announced versions that exist and differ from the default change the model.
    const chosen = new Map<number, ObjectModel>();
    for (const [id, v] of versions) {
      const o = this.get(id, v);
      if (o && o !== this.get(id)) chosen.set(id, o);
    }
    const key = [...chosen]
      .sort((a, b) => a[0] - b[0])
      .map(([id, o]) => `${id}@${o.version}`)
      .join(',');
    const known = this.#models.get(key);
    if (known) return known;
    const getObject = (objectId: number): ObjectModel | undefined =>
      chosen.get(objectId) ?? this.get(objectId);
    const model: Lwm2mModel = {
      getObject,
      getResource: (objectId, resourceId) => getObject(objectId)?.resources.get(resourceId),
    };
    // A bound on distinct version sets, against devices that announce random versions.
    if (this.#models.size >= 10_000) this.#models.clear();
    this.#models.set(key, model);
    return model;
  }

  #put(map: Map<number, ObjectModel[]>, o: ObjectModel): void {
    const list = map.get(o.id) ?? [];
    const i = list.findIndex((x) => compareVersions(x.version, o.version) === 0);
    if (i >= 0) list[i] = o;
    else list.push(o);
    list.sort((a, b) => compareVersions(a.version, b.version));
    map.set(o.id, list);
  }

  #loadFile(map: Map<number, ObjectModel[]>, path: string): void {
    try {
      let xml: string;
      try {
        xml = readFileSync(path, 'utf8');
      } catch (e) {
        throw new DdfError(path, `cannot read: ${(e as Error).message}`);
      }
      for (const o of parseDdf(xml, path)) this.#put(map, o);
    } catch (e) {
      const reason = e instanceof DdfError ? e.reason : (e as Error).message;
      this.#failures.push({ file: path, reason });
    }
  }

  #ensure(): Map<number, ObjectModel[]> {
    if (this.#objects) return this.#objects;
    const map = new Map<number, ObjectModel[]>();
    this.#failures = [];
    if (this.#options.oma !== false) {
      const dir = resolve(this.#options.omaDir ?? defaultRegistryDir());
      // The registry's object files are named <ObjectID>.xml; DDF.xml, Common.xml and
      // LWM2M_senml_units.xml are indexes, not object definitions.
      for (const name of listXml(dir, this.#failures).filter((n) => /^\d+\.xml$/.test(n))) {
        this.#loadFile(map, join(dir, name));
      }
    }
    for (const userDir of this.#options.userDirs ?? []) {
      const dir = resolve(userDir);
      for (const name of listXml(dir, this.#failures)) this.#loadFile(map, join(dir, name));
    }
    for (const o of this.#extra) this.#put(map, o);
    this.#extra = [];
    this.#objects = map;
    return map;
  }
}

function listXml(dir: string, failures: LoadFailure[]): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.toLowerCase().endsWith('.xml'))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch (e) {
    failures.push({ file: dir, reason: `cannot list directory: ${(e as Error).message}` });
    return [];
  }
}

let shared: ObjectRegistry | undefined;

/** One process-wide registry of the vendored OMA objects, parsed once on first use. */
export function omaRegistry(): ObjectRegistry {
  shared ??= new ObjectRegistry();
  return shared;
}

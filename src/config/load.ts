import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { configSchema, LOG_LEVELS, STORAGE_BACKENDS, type TandemConfig } from './schema.js';
import { OTHER_ENV, SETTINGS, type Setting } from './settings.js';

/** One clear reason why the configuration cannot be used: the key, where it came from, why. */
export class ConfigError extends Error {
  readonly code = 'TANDEM_ERR_CONFIG';
  constructor(
    readonly key: string,
    readonly reason: string,
    readonly source?: string,
  ) {
    super(`invalid configuration: ${key}${source ? ` (from ${source})` : ''}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** `--config PATH`; otherwise TANDEM_CONFIG, otherwise tandem.config.{json,yaml,yml} in cwd. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line values keyed by setting key (`listeners.http.port`), as the CLI parsed them. */
  flags?: Readonly<Record<string, string | boolean>>;
  cwd?: string;
}

export interface LoadedConfig {
  config: TandemConfig;
  /** The config file read, if any. */
  file?: string;
  /** Things worth a warning in the log, such as unknown TANDEM_* variables. */
  warnings: string[];
}

const DEFAULT_FILES = ['tandem.config.json', 'tandem.config.yaml', 'tandem.config.yml'];
/** Keys holding paths: relative values in a config file are relative to that file. */
const PATH_KEYS = SETTINGS.filter((s) => s.kind === 'path').map((s) => s.key);

type Tree = Record<string, unknown>;

/**
 * Builds the configuration from defaults < config file < environment < command-line flags,
 * and validates it. Throws ConfigError, naming the first offending key and its source.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const warnings: string[] = [];
  const sources = new Map<string, string>();
  const merged: Tree = {};

  const file = findConfigFile(options.configPath ?? env.TANDEM_CONFIG, cwd);
  if (file) {
    const fromFile = readConfigFile(file);
    for (const key of PATH_KEYS) {
      const value = getPath(fromFile, key);
      if (typeof value === 'string' && !isAbsolute(value)) {
        setPath(fromFile, key, resolve(dirname(file), value));
      }
    }
    for (const key of leafKeys(fromFile)) sources.set(key, `config file ${file}`);
    deepMerge(merged, fromFile);
  }

  const byEnv = new Map(SETTINGS.map((s) => [s.env, s]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('TANDEM_') || raw === undefined) continue;
    const setting = byEnv.get(name);
    if (!setting) {
      if (!OTHER_ENV.has(name)) warnings.push(`unknown environment variable ${name} ignored`);
      continue;
    }
    const source = `environment ${name}`;
    setPath(merged, setting.key, parseValue(setting, raw, source, cwd));
    sources.set(setting.key, source);
  }

  for (const [key, raw] of Object.entries(options.flags ?? {})) {
    const setting = SETTINGS.find((s) => s.key === key);
    if (!setting) throw new ConfigError(key, 'not a known setting');
    const source = `flag ${setting.flag}`;
    setPath(merged, key, parseValue(setting, raw, source, cwd));
    sources.set(key, source);
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let key = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      key = [...issue.path, issue.keys[0]].join('.');
      throw new ConfigError(key, 'unknown key', sources.get(key));
    }
    throw new ConfigError(key || '(root)', issue.message, sources.get(key));
  }
  const config = result.data;
  if (!isAbsolute(config.dataDir)) config.dataDir = resolve(cwd, config.dataDir);
  return { config, ...(file ? { file } : {}), warnings };
}

function findConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new ConfigError('config', `file ${path} does not exist`);
    return path;
  }
  return DEFAULT_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
}

function readConfigFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      'config',
      `${path} is not valid ${extname(path).slice(1).toUpperCase()}: ${(err as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (!isTree(value))
    throw new ConfigError('config', `${path} must hold an object at its top level`);
  return value;
}

function parseValue(setting: Setting, raw: string | boolean, source: string, cwd: string): unknown {
  const fail = (reason: string): never => {
    throw new ConfigError(setting.key, reason, source);
  };
  if (typeof raw === 'boolean') {
    if (setting.kind !== 'boolean') fail('expected a value');
    return raw;
  }
  const text = raw.trim();
  switch (setting.kind) {
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return fail(`expected true or false, got "${raw}"`);
    case 'port':
      if (text === 'off') return 'off';
      if (/^\d{1,5}$/.test(text) && Number(text) <= 65535) return Number(text);
      return fail(`expected a port number 0-65535 or "off", got "${raw}"`);
    case 'integer':
      if (/^\d+$/.test(text)) return Number(text);
      return fail(`expected a whole number, got "${raw}"`);
    case 'logLevel':
      if ((LOG_LEVELS as readonly string[]).includes(text)) return text;
      return fail(`expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
    case 'duration':
      if (parseDuration(text) !== undefined) return text;
      return fail(`expected a duration such as 90s, 15m, 1h, 30d or 2y, got "${raw}"`);
    case 'queuePolicy':
      if (text === 'drop' || text === 'backpressure') return text;
      return fail(`expected drop or backpressure, got "${raw}"`);
    case 'qos':
      // MQTT 5.0 §4.3: QoS 0, 1 or 2.
      if (/^[012]$/.test(text)) return Number(text);
      return fail(`expected a QoS of 0, 1 or 2, got "${raw}"`);
    case 'storageBackend':
      if ((STORAGE_BACKENDS as readonly string[]).includes(text)) return text;
      return fail(`expected one of ${STORAGE_BACKENDS.join(', ')}, got "${raw}"`);
    case 'path':
      if (text === '') fail('expected a path');
      return resolve(cwd, text);
    case 'string':
      if (text === '') fail('expected a non-empty value');
      return text;
  }
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(target: Tree, source: Tree): void {
  for (const [k, v] of Object.entries(source)) {
    const existing = target[k];
    if (isTree(v) && isTree(existing)) deepMerge(existing, v);
    else target[k] = isTree(v) ? structuredClone(v) : v;
  }
}

function leafKeys(tree: Tree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    isTree(v) ? leafKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

function getPath(tree: Tree, key: string): unknown {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (!isTree(node)) return undefined;
    node = node[part];
  }
  return node;
}

function setPath(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (isTree(next)) node = next;
    else node = node[part] = {};
  }
  node[parts.at(-1)!] = value;
}

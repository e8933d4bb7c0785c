/**
 * Which topics an authenticated MQTT device may use: its own namespace, given as topic-filter
 * patterns in which `%d` stands for the device id (as Mosquitto's `pattern` ACLs use `%c`/`%u`).
 * The default pattern `devices/%d/#` lets device `pump-7` publish to and subscribe under
 * `devices/pump-7/`, and nowhere else.
 */
export interface DeviceAcl {
  /** May the device publish to this topic name? */
  mayPublish(deviceId: string, topic: string): boolean;
  /** May the device subscribe to this topic filter (every topic it can match must be allowed)? */
  maySubscribe(deviceId: string, filter: string): boolean;
}

/** A device id usable in a topic level: no level separator, no wildcard, no NUL. */
export function isTopicSafeId(id: string): boolean {
  return id.length > 0 && !/[/+#\u0000]/.test(id);
}

export function deviceAcl(patterns: readonly string[]): DeviceAcl {
  const expand = (deviceId: string) =>
    isTopicSafeId(deviceId) ? patterns.map((p) => p.replaceAll('%d', deviceId).split('/')) : [];
  return {
    mayPublish: (deviceId, topic) => {
      const levels = topic.split('/');
      return expand(deviceId).some((p) => matches(p, levels));
    },
    maySubscribe: (deviceId, filter) => {
      const levels = shareless(filter).split('/');
      return expand(deviceId).some((p) => covers(p, levels));
    },
  };
}

/** `$share/{group}/{filter}` is checked as `{filter}` (MQTT 5.0 §4.8.2). */
function shareless(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const rest = filter.indexOf('/', '$share/'.length);
  return rest < 0 ? filter : filter.slice(rest + 1);
}

/** Does the filter `pattern` match the topic name `levels` (MQTT 5.0 §4.7)? */
function matches(pattern: readonly string[], levels: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '#') return true;
    if (i >= levels.length) return false;
    if (p !== '+' && p !== levels[i]) return false;
  }
  return pattern.length === levels.length;
}

/** Is every topic that `filter` can match also matched by `pattern`? */
function covers(pattern: readonly string[], filter: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '#') return true;
    if (i >= filter.length) return false;
    const f = filter[i];
    if (f === '#') return false; // the filter reaches deeper or wider than the pattern
    if (p === '+') continue;
    if (f === '+' || f !== p) return false;
  }
  return pattern.length === filter.length;
}

/**
 * What an application (logged in with an API token) may publish: a read-only token only
 * commands (`tandem/commands/...`, where the bridge checks each operation against the role);
 * operator and admin tokens anywhere the server's own rules allow. Every role may subscribe to
 * anything, `tandem/...` application topics included.
 */
export function appMayPublish(role: 'read-only' | 'operator' | 'admin', topic: string): boolean {
  return role !== 'read-only' || topic.startsWith('tandem/commands/');
}

/**
 * Topic names and filters (MQTT 5.0 §4.7, MQTT 3.1.1 §4.7). Strings reaching here are already
 * valid UTF-8 without U+0000 (checked by the codec).
 */

/** True when `topic` is a valid Topic Name: not empty, no wildcard characters. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false; // [MQTT-4.7.3-1]
  // [MQTT-3.3.2-2] the Topic Name in a PUBLISH must not contain wildcard characters.
  return topic.indexOf('+') === -1 && topic.indexOf('#') === -1;
}

/** True when `filter` is a valid Topic Filter (wildcards allowed, rules of §4.7.1). */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0) return false; // [MQTT-4.7.3-1]
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#')) {
      // [MQTT-4.7.1-2] '#' stands alone in its level and is the last character.
      if (level !== '#' || i !== levels.length - 1) return false;
    } else if (level.includes('+') && level !== '+') {
      return false; // [MQTT-4.7.1-3] '+' occupies an entire level
    }
  }
  return true;
}

/** A parsed `$share/{ShareName}/{filter}` (MQTT 5.0 §4.8.2). */
export interface SharedFilter {
  group: string;
  filter: string;
}

const SHARE_PREFIX = '$share/';

/**
 * Returns the share name and inner filter of a shared subscription, `null` for an ordinary
 * filter, or `'invalid'` when it starts with `$share/` but breaks §4.8.2.
 */
export function parseSharedFilter(filter: string): SharedFilter | null | 'invalid' {
  if (!filter.startsWith(SHARE_PREFIX)) return filter === '$share' ? 'invalid' : null;
  const rest = filter.slice(SHARE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return 'invalid'; // [MQTT-4.8.2-2] ShareName followed by '/' and a filter
  const group = rest.slice(0, slash);
  // [MQTT-4.8.2-1] the ShareName must not contain '/', '+' or '#'.
  if (group.includes('+') || group.includes('#')) return 'invalid';
  const inner = rest.slice(slash + 1);
  if (!isValidTopicFilter(inner)) return 'invalid';
  return { group, filter: inner };
}

/** Whether `topic` matches `filter` (used for retained messages; the trie serves routing). */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] wildcards at the first level do not match topics starting with '$'.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true; // also matches the parent level ("a/#" matches "a")
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

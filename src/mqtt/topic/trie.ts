import type { Subscription } from './subscription.js';

/**
 * Members of one `$share/{group}/{filter}`. Distribution is round-robin: `next` walks the
 * members in subscription order, skipping those the broker cannot deliver to right now
 * (MQTT 5.0 §4.8.2 leaves the strategy to the server).
 */
export interface SharedGroup {
  name: string;
  topicFilter: string;
  members: Subscription[];
  next: number;
}

class TrieNode {
  children = new Map<string, TrieNode>();
  /** Non-shared subscriptions ending at this node, by client id. */
  subs = new Map<string, Subscription>();
  shared?: Map<string, SharedGroup>;

  get empty(): boolean {
    return this.children.size === 0 && this.subs.size === 0 && !this.shared?.size;
  }
}

/**
 * Subscription tree keyed by topic level. Matching a topic visits at most the exact, `+` and
 * `#` branches of each level, so cost follows the topic depth, not the number of subscriptions.
 */
export class TopicTrie {
  #root = new TrieNode();
  #size = 0;

  /** Number of subscriptions stored (shared members counted one each). */
  get size(): number {
    return this.#size;
  }

  /** Adds or replaces the subscription of `sub.clientId` on `sub.filter`. */
  add(sub: Subscription): void {
    const node = this.#walk(sub.topicFilter, true)!;
    if (sub.group !== undefined) {
      if (!node.shared) node.shared = new Map();
      let group = node.shared.get(sub.group);
      if (!group) {
        group = { name: sub.group, topicFilter: sub.topicFilter, members: [], next: 0 };
        node.shared.set(sub.group, group);
      }
      const i = group.members.findIndex((m) => m.clientId === sub.clientId);
      if (i >= 0) group.members[i] = sub;
      else {
        group.members.push(sub);
        this.#size++;
      }
      return;
    }
    if (!node.subs.has(sub.clientId)) this.#size++;
    node.subs.set(sub.clientId, sub);
  }

  /** Removes one subscription; returns whether it existed. */
  remove(clientId: string, topicFilter: string, group?: string): boolean {
    const path: TrieNode[] = [];
    const levels = topicFilter.split('/');
    let node = this.#root;
    for (const level of levels) {
      const child = node.children.get(level);
      if (!child) return false;
      path.push(node);
      node = child;
    }
    let removed = false;
    if (group !== undefined) {
      const g = node.shared?.get(group);
      if (g) {
        const i = g.members.findIndex((m) => m.clientId === clientId);
        if (i >= 0) {
          g.members.splice(i, 1);
          if (g.next > i) g.next--;
          removed = true;
          if (g.members.length === 0) node.shared!.delete(group);
        }
      }
    } else {
      removed = node.subs.delete(clientId);
    }
    if (!removed) return false;
    this.#size--;
    // Prune empty nodes up the path so the tree does not grow with churn.
    for (let i = levels.length - 1; i >= 0 && node.empty; i--) {
      const parent = path[i]!;
      parent.children.delete(levels[i]!);
      node = parent;
    }
    return true;
  }

  /**
   * Calls `onSub` for every non-shared subscription and `onGroup` for every shared group whose
   * filter matches `topic`.
   */
  match(
    topic: string,
    onSub: (sub: Subscription) => void,
    onGroup: (group: SharedGroup) => void,
  ): void {
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] a Topic Filter starting with a wildcard does not match a `$` topic.
    const dollar = topic.startsWith('$');
    this.#match(this.#root, levels, 0, dollar, onSub, onGroup);
  }

  #match(
    node: TrieNode,
    levels: string[],
    i: number,
    dollar: boolean,
    onSub: (sub: Subscription) => void,
    onGroup: (group: SharedGroup) => void,
  ): void {
    const wild = !(dollar && i === 0);
    if (wild) {
      // '#' matches this level and everything below, and also the parent level itself
      // ("sport/#" matches "sport") [MQTT-4.7.1-2].
      const hash = node.children.get('#');
      if (hash) emit(hash, onSub, onGroup);
    }
    if (i === levels.length) {
      emit(node, onSub, onGroup);
      return;
    }
    const exact = node.children.get(levels[i]!);
    if (exact) this.#match(exact, levels, i + 1, dollar, onSub, onGroup);
    if (wild) {
      const plus = node.children.get('+');
      if (plus) this.#match(plus, levels, i + 1, dollar, onSub, onGroup);
    }
  }

  #walk(filter: string, create: boolean): TrieNode | undefined {
    let node = this.#root;
    for (const level of filter.split('/')) {
      let child = node.children.get(level);
      if (!child) {
        if (!create) return undefined;
        child = new TrieNode();
        node.children.set(level, child);
      }
      node = child;
    }
    return node;
  }
}

function emit(
  node: TrieNode,
  onSub: (sub: Subscription) => void,
  onGroup: (group: SharedGroup) => void,
): void {
  for (const sub of node.subs.values()) onSub(sub);
  if (node.shared) for (const g of node.shared.values()) onGroup(g);
}

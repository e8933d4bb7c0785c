import type { MqttMessage } from '../message.js';

class Node {
  children = new Map<string, Node>();
  message: MqttMessage | undefined;
}

/**
 * Retained messages indexed by topic level, so that a new subscription visits only the branches
 * its filter can match instead of every retained message.
 */
export class RetainedStore {
  #root = new Node();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  set(topic: string, message: MqttMessage): void {
    let node = this.#root;
    for (const level of topic.split('/')) {
      let child = node.children.get(level);
      if (!child) {
        child = new Node();
        node.children.set(level, child);
      }
      node = child;
    }
    if (!node.message) this.#size++;
    node.message = message;
  }

  /** Removes the retained message of `topic`; returns whether there was one. */
  delete(topic: string): boolean {
    const levels = topic.split('/');
    const path: Node[] = [];
    let node = this.#root;
    for (const level of levels) {
      const child = node.children.get(level);
      if (!child) return false;
      path.push(node);
      node = child;
    }
    if (!node.message) return false;
    node.message = undefined;
    this.#size--;
    for (let i = levels.length - 1; i >= 0 && !node.message && node.children.size === 0; i--) {
      const parent = path[i]!;
      parent.children.delete(levels[i]!);
      node = parent;
    }
    return true;
  }

  /** Every retained message whose topic matches `filter` (MQTT 5.0 §4.7). */
  match(filter: string): MqttMessage[] {
    const out: MqttMessage[] = [];
    this.#match(this.#root, filter.split('/'), 0, out);
    return out;
  }

  #match(node: Node, levels: string[], i: number, out: MqttMessage[]): void {
    if (i === levels.length) {
      if (node.message) out.push(node.message);
      return;
    }
    const level = levels[i]!;
    if (level === '#') {
      // '#' matches the parent level too ("a/#" matches "a") [MQTT-4.7.1-2].
      if (node.message && i > 0) out.push(node.message);
      this.#all(node, i === 0, out);
      return;
    }
    if (level === '+') {
      for (const [name, child] of node.children) {
        // [MQTT-4.7.2-1] a leading wildcard does not match a topic starting with '$'.
        if (i === 0 && name.startsWith('$')) continue;
        this.#match(child, levels, i + 1, out);
      }
      return;
    }
    const child = node.children.get(level);
    if (child) this.#match(child, levels, i + 1, out);
  }

  #all(node: Node, top: boolean, out: MqttMessage[]): void {
    for (const [name, child] of node.children) {
      if (top && name.startsWith('$')) continue; // [MQTT-4.7.2-1]
      if (child.message) out.push(child.message);
      this.#all(child, false, out);
    }
  }

  *values(): IterableIterator<MqttMessage> {
    const stack: Node[] = [this.#root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.message) yield node.message;
      for (const child of node.children.values()) stack.push(child);
    }
  }
}

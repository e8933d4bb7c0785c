import type { HandshakeFragment, HandshakeMessage } from './fragment.js';

const MAX_RANGES = 64;

interface Partial {
  msgType: number;
  length: number;
  epoch: number;
  body: Buffer;
  /** Sorted, merged [start, end) ranges received. */
  ranges: [number, number][];
}

export type AddResult = 'old' | 'buffered' | 'rejected';

/**
 * RFC 6347 §4.2.2-§4.2.3: handshake messages in message_seq order, reassembled from fragments
 * that may arrive out of order, overlap or repeat. Messages from the future are buffered up to
 * `window` ahead; a message whose total length exceeds `maxMessage` is refused (it would be an
 * allocation from an unchecked length).
 */
export class Reassembler {
  nextSeq = 0;
  readonly #pending = new Map<number, Partial>();

  constructor(
    readonly window = 8,
    readonly maxMessage = 64 * 1024,
  ) {}

  add(f: HandshakeFragment, epoch: number): AddResult {
    if (f.messageSeq < this.nextSeq) return 'old'; // RFC 6347 §4.2.2: a retransmission
    if (f.messageSeq >= this.nextSeq + this.window) return 'rejected';
    if (f.length > this.maxMessage) return 'rejected';
    let p = this.#pending.get(f.messageSeq);
    if (!p) {
      p = { msgType: f.msgType, length: f.length, epoch, body: Buffer.alloc(f.length), ranges: [] };
      this.#pending.set(f.messageSeq, p);
    } else if (p.msgType !== f.msgType || p.length !== f.length) {
      return 'rejected'; // RFC 6347 §4.2.3: fragments of one message agree on type and length
    }
    // A message cut in more than MAX_RANGES disjoint pieces costs too much to track: dropped.
    if (p.ranges.length >= MAX_RANGES) return 'rejected';
    f.fragment.copy(p.body, f.fragmentOffset);
    addRange(p.ranges, f.fragmentOffset, f.fragmentOffset + f.fragment.length);
    return 'buffered';
  }

  /** The next complete message in order, if any. */
  next(): HandshakeMessage | undefined {
    const p = this.#pending.get(this.nextSeq);
    if (!p) return undefined;
    const complete =
      p.length === 0 ||
      (p.ranges.length === 1 && p.ranges[0]![0] === 0 && p.ranges[0]![1] === p.length);
    if (!complete) return undefined;
    this.#pending.delete(this.nextSeq);
    const msg = { msgType: p.msgType, messageSeq: this.nextSeq, body: p.body, epoch: p.epoch };
    this.nextSeq++;
    return msg;
  }

  /** Forgets what was buffered (a new handshake starts, RFC 6347 §4.2.2). */
  reset(nextSeq: number): void {
    this.#pending.clear();
    this.nextSeq = nextSeq;
  }
}

function addRange(ranges: [number, number][], start: number, end: number): void {
  if (end <= start) return;
  ranges.push([start, end]);
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  ranges.length = 0;
  ranges.push(...merged);
}

/**
 * RFC 6347 §4.1.2.6 anti-replay: a sliding window of the last `size` sequence numbers received
 * (RFC 4303 §3.4.3). `check` before the record is authenticated, `accept` only after, so that a
 * forged record cannot move the window.
 */
export class ReplayWindow {
  #max = -1;
  #bits = 0n; // bit i set: #max - i was received
  readonly #size: bigint;
  readonly #mask: bigint;

  constructor(readonly size = 64) {
    this.#size = BigInt(size);
    this.#mask = (1n << this.#size) - 1n;
  }

  /** Highest sequence number accepted so far, -1 before any. */
  get highest(): number {
    return this.#max;
  }

  /** False for a duplicate or a record too old for the window. */
  check(seq: number): boolean {
    if (seq > this.#max) return true;
    const offset = BigInt(this.#max - seq);
    if (offset >= this.#size) return false;
    return ((this.#bits >> offset) & 1n) === 0n;
  }

  accept(seq: number): void {
    if (seq > this.#max) {
      const shift = this.#max < 0 ? this.#size : BigInt(seq - this.#max);
      this.#bits = shift >= this.#size ? 1n : ((this.#bits << shift) | 1n) & this.#mask;
      this.#max = seq;
      return;
    }
    this.#bits |= 1n << BigInt(this.#max - seq);
  }
}

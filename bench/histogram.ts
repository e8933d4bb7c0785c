/**
 * A log-bucketed latency histogram in microseconds: 2 % relative precision from 1 µs to hours in
 * about a thousand buckets, cheap to record from the receive loop and to merge across workers.
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 1200;

export class LatencyHistogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(BUCKETS);
    if (counts) {
      for (let i = 0; i < BUCKETS && i < counts.length; i++) {
        const value = counts[i] ?? 0;
        this.counts[i] = value;
        this.count += value;
      }
    }
  }

  /** Records `times` samples of `micros` (clamped to 0 for clock noise). */
  record(micros: number, times = 1): void {
    const us = Math.max(micros, 0);
    let index = us < 1 ? 0 : Math.floor(Math.log(us) / LOG_GROWTH) + 1;
    if (index >= BUCKETS) index = BUCKETS - 1;
    this.counts[index] = (this.counts[index] ?? 0) + times;
    this.count += times;
    if (us > this.max) this.max = us;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++)
      this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.count += other.count;
    if (other.max > this.max) this.max = other.max;
  }

  /** The value at quantile q (0..1) in microseconds: the geometric middle of its bucket. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        if (i === 0) return 0.5;
        const low = GROWTH ** (i - 1);
        return Math.min(low * Math.sqrt(GROWTH), this.max || Number.POSITIVE_INFINITY);
      }
    }
    return this.max;
  }

  toJSON(): number[] {
    return Array.from(this.counts);
  }
}

/**
 * The client's observations (LwM2M-TS-Core 1.1 §6.4, §5.1.2): when to notify. A change under
 * an observed path notifies, unless the value conditions (gt, lt, st) of a numeric resource say
 * no; notifications are at least `pmin` apart (a change earlier waits for it) and at most
 * `pmax` apart (a notification goes out at `pmax` even without a change).
 */
import type { OutgoingResponse } from '../../coap/request.js';
import type { Clock } from '../../util/clock.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import { type LongTimer, setLongTimeout } from '../server/long-timeout.js';
import type { AttributeStore, Attributes } from './attributes.js';

/** The part of a CoAP server observation the manager uses. */
export interface NotificationSink {
  readonly active: boolean;
  notify(response: OutgoingResponse, options?: { confirmable?: boolean }): void;
  cancel(): void;
  onCancel: (() => void) | undefined;
}

export interface ObservationEntry {
  readonly paths: readonly Lwm2mPath[];
  readonly composite: boolean;
  readonly sink: NotificationSink;
  /** The current content (2.05) or an error (4.04 when the path is gone). */
  readonly render: () => OutgoingResponse;
  lastAt: number;
  lastValue: number | undefined;
  /** The last boolean value seen, for `edge` (LwM2M-TS-Core 1.2 §5.1.2). */
  lastBoolean: boolean | undefined;
  pminTimer: LongTimer | undefined;
  pmaxTimer: LongTimer | undefined;
  /** When the conditions were last evaluated (epmin, epmax). */
  lastEvalAt: number;
  evalTimer: LongTimer | undefined;
  epmaxTimer: LongTimer | undefined;
}

export interface ObserveManagerDeps {
  readonly clock: Clock;
  readonly attributes: AttributeStore;
  /** Default pmin/pmax of the Server object (LwM2M-TS-Core 1.1 Appendix E.2 resources 2, 3). */
  readonly defaults: () => { pmin?: number; pmax?: number };
  /** The numeric value at a resource path, for gt/lt/st. */
  readonly numericValue: (path: Lwm2mPath) => number | undefined;
  /** The boolean value at a resource path, for edge. */
  readonly booleanValue: (path: Lwm2mPath) => boolean | undefined;
}

export class ObserveManager {
  readonly #deps: ObserveManagerDeps;
  readonly #entries = new Set<ObservationEntry>();

  constructor(deps: ObserveManagerDeps) {
    this.#deps = deps;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Starts watching; the registration's response (the first value) is sent by the caller. */
  add(
    paths: readonly Lwm2mPath[],
    composite: boolean,
    sink: NotificationSink,
    render: () => OutgoingResponse,
  ): ObservationEntry {
    const entry: ObservationEntry = {
      paths,
      composite,
      sink,
      render,
      lastAt: this.#deps.clock.now(),
      lastValue: composite ? undefined : this.#deps.numericValue(paths[0]!),
      lastBoolean: composite ? undefined : this.#deps.booleanValue(paths[0]!),
      pminTimer: undefined,
      pmaxTimer: undefined,
      lastEvalAt: this.#deps.clock.now(),
      evalTimer: undefined,
      epmaxTimer: undefined,
    };
    this.#entries.add(entry);
    sink.onCancel = () => this.#remove(entry);
    this.#armPmax(entry);
    this.#armEpmax(entry, this.#attributes(entry));
    return entry;
  }

  /** Something at `path` changed (a resource, or an instance created or deleted). */
  changed(path: Lwm2mPath): void {
    for (const entry of this.#entries) {
      if (!entry.paths.some((p) => p.startsWith(path) || path.startsWith(p))) continue;
      this.#evaluate(entry);
    }
  }

  /**
   * Checks the conditions of an observation against the current value. LwM2M-TS-Core 1.1
   * §5.1.2 epmin: evaluations are at least epmin apart (a change sooner is evaluated when
   * epmin has passed); epmax: at least every epmax seconds the value is evaluated again.
   */
  #evaluate(entry: ObservationEntry, periodic = false): void {
    const clock = this.#deps.clock;
    const attrs = this.#attributes(entry);
    const conditions =
      attrs.gt !== undefined ||
      attrs.lt !== undefined ||
      attrs.st !== undefined ||
      attrs.edge !== undefined;
    if (attrs.epmin !== undefined) {
      const due = entry.lastEvalAt + attrs.epmin * 1000;
      if (clock.now() < due) {
        entry.evalTimer ??= setLongTimeout(
          clock,
          () => {
            entry.evalTimer = undefined;
            this.#evaluate(entry);
          },
          due - clock.now(),
        );
        return;
      }
    }
    entry.lastEvalAt = clock.now();
    this.#armEpmax(entry, attrs);
    // A periodic evaluation without a value condition has no change to report.
    if (periodic && !conditions) return;
    if (!this.#conditionsMet(entry, attrs)) return;
    this.#schedule(entry, attrs);
  }

  #armEpmax(entry: ObservationEntry, attrs: Attributes): void {
    entry.epmaxTimer?.cancel();
    entry.epmaxTimer = undefined;
    if (attrs.epmax === undefined || attrs.epmax <= 0) return;
    // LwM2M-TS-Core 1.1 §5.1.2: an epmax below epmin is ignored.
    if (attrs.epmin !== undefined && attrs.epmax < attrs.epmin) return;
    entry.epmaxTimer = setLongTimeout(
      this.#deps.clock,
      () => {
        entry.epmaxTimer = undefined;
        this.#evaluate(entry, true);
      },
      attrs.epmax * 1000,
    );
  }

  /** Attributes changed: re-arm the pmax timers. */
  attributesChanged(): void {
    for (const entry of this.#entries) {
      this.#armPmax(entry);
      this.#armEpmax(entry, this.#attributes(entry));
    }
  }

  clear(): void {
    for (const entry of [...this.#entries]) {
      this.#remove(entry);
      entry.sink.cancel();
    }
  }

  #attributes(entry: ObservationEntry): Attributes {
    const defaults = this.#deps.defaults();
    // Observe-Composite: value conditions do not apply; the periods are the defaults'.
    if (entry.composite) return { ...defaults };
    return this.#deps.attributes.effective(entry.paths[0]!, defaults);
  }

  #conditionsMet(entry: ObservationEntry, a: Attributes): boolean {
    if (a.edge !== undefined && !entry.composite) {
      const b = this.#deps.booleanValue(entry.paths[0]!);
      const before = entry.lastBoolean;
      entry.lastBoolean = b;
      // LwM2M-TS-Core 1.2 §5.1.2 edge: 1 notifies on a rising edge (false to true), 0 on a
      // falling one; other changes of a boolean resource are not reported.
      if (b !== undefined && before !== undefined)
        return a.edge === 1 ? !before && b : before && !b;
    }
    if (a.gt === undefined && a.lt === undefined && a.st === undefined) return true;
    const v = this.#deps.numericValue(entry.paths[0]!);
    const last = entry.lastValue;
    if (v === undefined || last === undefined) return true;
    // LwM2M-TS-Core 1.1 §5.1.2: notify when the value crosses gt or lt (either way), or moves
    // by at least st since the last notification.
    if (a.gt !== undefined && last > a.gt !== v > a.gt) return true;
    if (a.lt !== undefined && last < a.lt !== v < a.lt) return true;
    if (a.st !== undefined && Math.abs(v - last) >= a.st) return true;
    return false;
  }

  #schedule(entry: ObservationEntry, a: Attributes): void {
    const clock = this.#deps.clock;
    const due = entry.lastAt + (a.pmin ?? 0) * 1000;
    if (clock.now() >= due) {
      this.#notify(entry);
      return;
    }
    // LwM2M-TS-Core 1.1 §5.1.2 pmin: no notification sooner than pmin after the last one; the
    // change is reported when pmin has passed.
    if (entry.pminTimer) return;
    entry.pminTimer = setLongTimeout(
      clock,
      () => {
        entry.pminTimer = undefined;
        this.#notify(entry);
      },
      due - clock.now(),
    );
  }

  #armPmax(entry: ObservationEntry): void {
    const clock = this.#deps.clock;
    entry.pmaxTimer?.cancel();
    entry.pmaxTimer = undefined;
    const a = this.#attributes(entry);
    if (a.pmax === undefined || a.pmax <= 0) return;
    // LwM2M-TS-Core 1.1 §5.1.2: a pmax below pmin is ignored.
    if (a.pmin !== undefined && a.pmax < a.pmin) return;
    const due = entry.lastAt + a.pmax * 1000;
    entry.pmaxTimer = setLongTimeout(
      clock,
      () => {
        entry.pmaxTimer = undefined;
        this.#notify(entry);
      },
      due - clock.now(),
    );
  }

  #notify(entry: ObservationEntry): void {
    if (!entry.sink.active) {
      this.#remove(entry);
      return;
    }
    entry.pminTimer?.cancel();
    entry.pminTimer = undefined;
    const response = entry.render();
    entry.lastAt = this.#deps.clock.now();
    if (!entry.composite) entry.lastValue = this.#deps.numericValue(entry.paths[0]!);
    const a = this.#attributes(entry);
    // LwM2M-TS-Core 1.2 §5.1.2 con: 1 asks for confirmable notifications.
    entry.sink.notify(response, { confirmable: a.con === 1 });
    if (response.code >> 5 !== 2) {
      this.#remove(entry);
      return;
    }
    this.#armPmax(entry);
  }

  #remove(entry: ObservationEntry): void {
    if (!this.#entries.delete(entry)) return;
    entry.pminTimer?.cancel();
    entry.pmaxTimer?.cancel();
    entry.pminTimer = undefined;
    entry.pmaxTimer = undefined;
    entry.evalTimer?.cancel();
    entry.epmaxTimer?.cancel();
    entry.evalTimer = undefined;
    entry.epmaxTimer = undefined;
  }
}

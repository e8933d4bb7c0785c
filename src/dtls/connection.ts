import type { Clock, TimerHandle } from '../util/clock.js';
import { ContentType, HandshakeType, MAX_PLAINTEXT } from './constants.js';
import { AlertDescription, AlertLevel, alertName, DtlsError } from './errors.js';
import { type FlightEntry, packFlight } from './handshake/flight.js';
import { parseFragments } from './handshake/fragment.js';
import type { HandshakeHost, Handshaker, SessionState } from './handshake/handshaker.js';
import { Reassembler } from './handshake/reassembler.js';
import { parseAlert, serializeAlert } from './record/alert.js';
import { type DtlsRecord, parseRecords } from './record/record.js';
import { RecordLayer } from './record/record-layer.js';

/** RFC 6347 §4.2.4.1: timer values; 1 s initial, doubled up to 60 s. */
export interface RetransmitOptions {
  initialMs: number;
  maxMs: number;
  /** Retransmissions of one flight before the handshake is abandoned. */
  maxAttempts: number;
}

export const defaultRetransmit: RetransmitOptions = {
  initialMs: 1000,
  maxMs: 60_000,
  maxAttempts: 6,
};

export interface ConnectionOptions {
  clock: Clock;
  /** Largest datagram to send (RFC 6347 §4.1.1.1 PMTU); flights are fragmented to fit. */
  mtu: number;
  retransmit: RetransmitOptions;
  /** Sends one datagram to the peer. */
  send(datagram: Buffer): void;
  onEstablished(session: SessionState): void;
  onData(data: Buffer): void;
  /** The association ended: by close_notify (no error), a fatal alert, or a failed handshake. */
  onClose(error: DtlsError | undefined, byPeer: boolean): void;
  /** Counters to add to (shared by all associations of a server). */
  counters?: RecordCounters;
}

/** Plain counters of the record layer. */
export interface RecordCounters {
  /** Records dropped silently: unknown epoch, replayed, not authentic, too long (RFC 6347 §4.1.2.7). */
  recordsDropped: number;
  alertsSent: number;
  alertsReceived: number;
}

/** Records of the next epoch kept while its keys are not yet known (RFC 6347 §4.1). */
const MAX_FUTURE_RECORDS = 8;
/** RFC 6347 §4.1.1.1: the datagram size to fall back to after BACKOFF_AFTER silent timeouts. */
const BACKOFF_MTU = 548;
const BACKOFF_AFTER = 2;
/** Retransmissions answered to a peer's retransmissions, per flight, to bound amplification. */
const MAX_ANSWERED_RETRANSMITS = 8;

/**
 * One DTLS association: record layer, handshake reassembly and flight retransmission
 * (RFC 6347 §4.2.4), alerts, and application data once established. The role's logic lives in
 * its handshaker; the transports own the sockets and the maps of connections.
 */
export class DtlsConnection implements HandshakeHost {
  readonly records = new RecordLayer();
  readonly reassembler = new Reassembler();
  handshaker!: Handshaker;
  state: 'handshaking' | 'established' | 'closed' = 'handshaking';
  session: SessionState | undefined;
  lastActivity: number;
  /** CID length this side issues, to parse incoming tls12_cid records (RFC 9146 §4). */
  cidLength = 0;
  /** RFC 6066 §4: the negotiated maximum fragment length (plaintext bytes per record). */
  maxFragment = MAX_PLAINTEXT;

  readonly #o: ConnectionOptions;
  #lastFlight: FlightEntry[] | undefined;
  #lastFinal = false;
  #timer: TimerHandle | undefined;
  #timeoutMs: number;
  #attempts = 0;
  #answered = 0;
  #peerFlightStart = -1;
  #awaitFirst = false;
  #future: DtlsRecord[] = [];
  #mtu: number;

  constructor(options: ConnectionOptions) {
    this.#o = options;
    this.#timeoutMs = options.retransmit.initialMs;
    this.#mtu = options.mtu;
    this.lastActivity = options.clock.now();
  }

  /** Handles one datagram; true when it held an authenticated record newer than any before. */
  receive(datagram: Buffer): boolean {
    let advanced = false;
    for (const rec of parseRecords(datagram, this.cidLength)) {
      if (this.state === 'closed') break;
      if (this.#receiveRecord(rec)) advanced = true;
    }
    return advanced;
  }

  /** Feeds a handshake message the transport already parsed (the server's verified ClientHello). */
  receiveRecord(rec: DtlsRecord): void {
    this.#receiveRecord(rec);
  }

  /** Protects and sends application data (RFC 5246 §10: only once the handshake is over). */
  sendApplicationData(data: Uint8Array): void {
    if (this.state !== 'established') throw new DtlsError('internal_error', 'not established');
    // RFC 5246 §6.2.1: a record carries at most 2^14 bytes; a datagram is one record here.
    if (data.length > this.maxFragment) {
      throw new DtlsError('record_overflow', 'datagram too large for one record');
    }
    this.#o.send(this.records.protect(ContentType.application_data, Buffer.from(data)));
  }

  /** RFC 5246 §7.2.1: closes with close_notify. */
  close(): void {
    if (this.state === 'closed') return;
    this.#sendAlert(AlertLevel.warning, AlertDescription.close_notify);
    this.#closed(undefined, false);
  }

  /** Ends the association with a fatal alert carrying `error.alert` (RFC 5246 §7.2.2). */
  fail(error: DtlsError, sendAlert = true): void {
    if (this.state === 'closed') return;
    if (sendAlert) this.#sendAlert(AlertLevel.fatal, AlertDescription[error.alert]);
    this.#closed(error, false);
  }

  /** Drops the association without a word (eviction, shutdown of the transport). */
  destroy(): void {
    if (this.state === 'closed') return;
    this.#closed(undefined, false);
  }

  // HandshakeHost

  sendFlight(flight: FlightEntry[], final: boolean): void {
    this.#cancelTimer();
    this.#lastFlight = flight;
    this.#lastFinal = final;
    this.#awaitFirst = true;
    this.#attempts = 0;
    this.#answered = 0;
    this.#timeoutMs = this.#o.retransmit.initialMs;
    this.#transmit();
    const maxEpoch = Math.max(...flight.map((e) => e.epoch));
    if (maxEpoch > this.records.writeEpoch) this.records.writeEpoch = maxEpoch;
    // RFC 6347 §4.2.4: a flight that expects an answer is retransmitted on timeout.
    if (!final) this.#arm();
  }

  complete(session: SessionState): void {
    this.session = session;
    this.state = 'established';
    this.records.readEpoch = this.records.writeEpoch;
    this.#cancelTimer();
    // RFC 6347 §4.2.4: only the side that sent the last flight answers retransmissions of the
    // peer's last flight; a flight that was answered needs no retransmission any more.
    if (!this.#lastFinal) this.#lastFlight = undefined;
    this.#o.onEstablished(session);
  }

  #receiveRecord(rec: DtlsRecord): boolean {
    if (!this.records.hasReadEpoch(rec.epoch)) {
      // RFC 6347 §4.1: a record of the next epoch may overtake the messages giving its keys.
      if (rec.epoch === this.records.readEpoch + 1 && this.#future.length < MAX_FUTURE_RECORDS) {
        this.#future.push(rec);
      } else if (this.#o.counters) this.#o.counters.recordsDropped++;
      return false;
    }
    const before = this.records.highestSeq(rec.epoch);
    const failed = { mac: false };
    const opened = this.records.unprotect(rec, failed);
    if (!opened) {
      if (this.#o.counters) this.#o.counters.recordsDropped++;
      // RFC 6347 §4.1.2.7: invalid records are dropped silently; RFC 6347 §4.1: so are records
      // of an earlier association on the same address and port (a client that handshakes
      // again), whose epoch-1 keys are gone. One exception, which §4.1.2.7 allows as a fatal
      // alert: the client's Finished (a handshake record, or a record with the CID this
      // handshake issued) that does not decrypt means the client derived other keys from a
      // wrong PSK: RFC 5246 §7.2.2 bad_record_mac. A client never sees this first: the server's
      // Finished follows its check of ours, or comes from a shared cached master secret.
      if (
        failed.mac &&
        this.state === 'handshaking' &&
        this.handshaker.role === 'server' &&
        this.handshaker.awaitingFinished &&
        (rec.type === ContentType.handshake || rec.type === ContentType.tls12_cid)
      ) {
        this.fail(new DtlsError('bad_record_mac', 'the client Finished does not authenticate'));
      }
      return false;
    }
    // RFC 5246 §6.2.3: a plaintext over 2^14 bytes is record_overflow; dropped (§4.1.2.7).
    if (opened.data.length > MAX_PLAINTEXT) {
      if (this.#o.counters) this.#o.counters.recordsDropped++;
      return false;
    }
    this.lastActivity = this.#o.clock.now();
    switch (opened.type) {
      case ContentType.handshake:
        this.#onHandshake(opened.data, opened.epoch);
        break;
      case ContentType.change_cipher_spec:
        break; // RFC 6347 §4.1: the epoch of the records says which keys apply
      case ContentType.alert:
        this.#onAlert(opened.data, opened.epoch);
        break;
      case ContentType.application_data:
        // RFC 5246 §10 / RFC 6347 §4.1: application data only under the negotiated keys.
        if (this.state !== 'established' || opened.epoch !== this.records.readEpoch) return false;
        // RFC 6347 §4.2.4: data in the new epoch shows the peer got our final flight.
        this.#lastFlight = undefined;
        this.#o.onData(opened.data);
        break;
      default:
        return false; // RFC 5246 §6: unknown content types are ignored
    }
    return opened.epoch > 0 && opened.seq > before;
  }

  #onHandshake(data: Buffer, epoch: number): void {
    const fragments = parseFragments(data);
    if (!fragments) return; // RFC 6347 §4.1.2.7
    for (const f of fragments) {
      if (this.state === 'closed') return;
      if (this.state === 'established') {
        // RFC 5746 §4.4 / RFC 5246 §7.2.2: renegotiation is refused with a no_renegotiation
        // warning. (OpenSSL starts a renegotiation's message_seq at 0 again, so the type decides.)
        const renegotiation =
          (this.handshaker.role === 'server' && f.msgType === HandshakeType.client_hello) ||
          (this.handshaker.role === 'client' && f.msgType === HandshakeType.hello_request);
        if (renegotiation && epoch === this.records.readEpoch) {
          if (f.fragmentOffset === 0) {
            this.#sendAlert(AlertLevel.warning, AlertDescription.no_renegotiation);
          }
          continue;
        }
        // Nothing new is expected once the handshake is over; only retransmissions of the
        // peer's last flight matter (a forged plaintext message must not end the session).
        if (f.messageSeq >= this.reassembler.nextSeq) continue;
      }
      const result = this.reassembler.add(f, epoch);
      if (result === 'old') {
        // RFC 6347 §4.2.4: the peer retransmitted its last flight, so ours was lost.
        if (f.messageSeq === this.#peerFlightStart && f.fragmentOffset === 0)
          this.#answerRetransmit();
      }
    }
    this.#drain();
  }

  #drain(): void {
    for (;;) {
      if (this.state === 'closed') return;
      const msg = this.reassembler.next();
      if (!msg) break;
      if (this.#awaitFirst) {
        this.#peerFlightStart = msg.messageSeq;
        this.#awaitFirst = false;
      }
      try {
        this.handshaker.handle(msg);
      } catch (err) {
        this.fail(err instanceof DtlsError ? err : new DtlsError('internal_error', String(err)));
        return;
      }
    }
    if (this.#future.length > 0) {
      const ready = this.#future.filter((r) => this.records.hasReadEpoch(r.epoch));
      if (ready.length > 0) {
        this.#future = this.#future.filter((r) => !this.records.hasReadEpoch(r.epoch));
        for (const r of ready) this.#receiveRecord(r);
      }
    }
  }

  #onAlert(data: Buffer, epoch: number): void {
    const alert = parseAlert(data);
    if (!alert) return;
    if (this.#o.counters) this.#o.counters.alertsReceived++;
    // Once established, only alerts under the session's keys count: a forged plaintext alert
    // must not end the association (RFC 6347 §4.1.2.7).
    if (this.state === 'established' && epoch !== this.records.readEpoch) return;
    if (alert.description === AlertDescription.close_notify) {
      // RFC 5246 §7.2.1: answer close_notify with close_notify.
      this.#sendAlert(AlertLevel.warning, AlertDescription.close_notify);
      this.#closed(undefined, true);
      return;
    }
    if (alert.level === AlertLevel.fatal) {
      const name = alertName(alert.description);
      const known =
        name in AlertDescription ? (name as keyof typeof AlertDescription) : 'internal_error';
      this.#closed(new DtlsError(known, `peer sent fatal alert ${name}`), true);
    }
    // Warnings (no_renegotiation, user_canceled...) leave the association as it is.
  }

  #sendAlert(level: number, description: number): void {
    if (this.#o.counters) this.#o.counters.alertsSent++;
    try {
      this.#o.send(this.records.protect(ContentType.alert, serializeAlert({ level, description })));
    } catch {
      // nothing to do: the association ends anyway
    }
  }

  #transmit(): void {
    if (!this.#lastFlight) return;
    for (const d of packFlight(this.#lastFlight, this.records, this.#mtu, this.maxFragment)) {
      this.#o.send(d);
    }
  }

  #answerRetransmit(): void {
    if (!this.#lastFlight || this.#answered >= MAX_ANSWERED_RETRANSMITS) return;
    this.#answered++;
    this.#transmit();
  }

  #arm(): void {
    this.#timer = this.#o.clock.setTimeout(() => this.#onTimeout(), this.#timeoutMs);
    this.#timer.unref?.();
  }

  #cancelTimer(): void {
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimeout(): void {
    this.#timer = undefined;
    if (this.state !== 'handshaking') return;
    if (++this.#attempts > this.#o.retransmit.maxAttempts) {
      this.fail(new DtlsError('handshake_failure', 'handshake timed out'), false);
      return;
    }
    // RFC 6347 §4.2.4.1: double the timer on each retransmission, up to the maximum.
    this.#timeoutMs = Math.min(this.#timeoutMs * 2, this.#o.retransmit.maxMs);
    // RFC 6347 §4.1.1.1: when retransmissions go unanswered, back off to a smaller record size
    // (576-byte IPv4 datagrams less the IP and UDP headers).
    if (this.#attempts >= BACKOFF_AFTER && this.#mtu > BACKOFF_MTU) this.#mtu = BACKOFF_MTU;
    this.#transmit();
    this.#arm();
  }

  #closed(error: DtlsError | undefined, byPeer: boolean): void {
    this.state = 'closed';
    this.#cancelTimer();
    this.#lastFlight = undefined;
    this.#future = [];
    this.#o.onClose(error, byPeer);
  }
}

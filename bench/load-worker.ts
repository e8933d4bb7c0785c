/**
 * One load worker: runs as a worker thread (throughput scenarios) or a child process (idle
 * connections, to spread file descriptors over several processes). It opens raw TCP sockets,
 * writes pre-encoded MQTT packets and scans what comes back just enough to count PUBLISH packets,
 * read their send time and answer the QoS 1/2 flows.
 */
import { connect, type Socket } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { LatencyHistogram } from './histogram.js';
import type { ClientSpec, Counters, FromWorker, ToWorker } from './load-protocol.js';
import {
  AckBatch,
  AckHeader,
  connectPacket,
  IDLE_KEEP_ALIVE_S,
  nowMicros,
  PacketScanner,
  PacketType,
  type PublishTemplate,
  publishTemplate,
  STAMP_BYTES,
  subscribePacket,
} from './mqtt-wire.js';

/** PUBLISH packets per write for QoS 0. */
const QOS0_BATCH = 32;
/** Writes per event-loop turn before yielding to incoming data. */
const QOS0_WRITES_PER_TURN = 16;
const CONNECT_TIMEOUT_MS = 10_000;
/** A QoS 0 publisher held back by flow control re-checks after this many ms. */
const FLOW_RECHECK_MS = 1;
/** With no delivery for this long, held-back messages are taken as lost and sending resumes. */
const FLOW_STALL_US = 1_000_000;
const MAX_ERRORS_KEPT = 5;
const readBuffer = Buffer.allocUnsafe(256 * 1024);

const counters: Counters = {
  sent: 0,
  acked: 0,
  unacked: 0,
  received: 0,
  firstSendAt: 0,
  lastReceiveAt: 0,
  dropped: 0,
};
const histogram = new LatencyHistogram();
const errors: string[] = [];
const clients: Client[] = [];
const publishers: Publisher[] = [];
let finishing = false;

/**
 * Starts the measured phase after a warm-up. QoS 1/2 messages still in flight stay counted as
 * unacked, so that their late acknowledgements balance.
 */
function resetCounters(): void {
  counters.sent = 0;
  counters.acked = 0;
  counters.unacked = publishers.reduce((n, p) => n + p.unacked, 0);
  counters.received = 0;
  counters.firstSendAt = 0;
  counters.lastReceiveAt = 0;
  counters.dropped = 0;
  histogram.reset();
  flowState.forgiven = 0;
  flowState.lastReceived = -1;
  mirrorCounters();
}

/** QoS 0 flow control shared with the other workers (see FlowControl), when publishing. */
const flowState = {
  shared: null as Float64Array | null,
  slot: 0,
  subscribers: 1,
  window: Number.POSITIVE_INFINITY,
  /** Deliveries given up on after a stall, so that a broker that drops cannot block sending. */
  forgiven: 0,
  lastReceived: -1,
  lastProgressAt: 0,
};

function mirrorCounters(): void {
  const shared = flowState.shared;
  if (shared === null) return;
  shared[flowState.slot * 2] = counters.sent;
  shared[flowState.slot * 2 + 1] = counters.received;
}

/** Whether QoS 0 flow control lets `batch` more messages go now. */
function flowAllows(batch: number, now: number): boolean {
  const shared = flowState.shared;
  if (shared === null) return true;
  let sent = 0;
  let received = 0;
  for (let i = 0; i < shared.length; i += 2) {
    sent += shared[i]!;
    received += shared[i + 1]!;
  }
  if (received !== flowState.lastReceived) {
    flowState.lastReceived = received;
    flowState.lastProgressAt = now;
  }
  const pending = (sent + batch) * flowState.subscribers - received - flowState.forgiven;
  if (pending <= flowState.window) return true;
  if (now - flowState.lastProgressAt > FLOW_STALL_US) {
    flowState.forgiven = sent * flowState.subscribers - received;
    flowState.lastProgressAt = now;
    return true;
  }
  return false;
}

function noteError(message: string): void {
  if (errors.length < MAX_ERRORS_KEPT) errors.push(message);
}

/** A socket with its scanner; subclasses handle the packets of their role. */
abstract class Client {
  readonly socket: Socket;
  protected readonly scanner: PacketScanner;
  protected readonly acks = new AckBatch();
  private ready = false;
  private settle: ((error?: Error) => void) | null = null;

  constructor(
    protected readonly spec: ClientSpec,
    host: string,
    port: number,
  ) {
    this.scanner = new PacketScanner((type, flags, buf, start, end) =>
      this.onPacket(type, flags, buf, start, end),
    );
    this.socket = connect({
      host,
      port,
      localAddress: spec.localAddress,
      noDelay: true,
      // Reads land in one buffer shared by every socket of this worker, handed over synchronously:
      // no allocation and no stream machinery per read. The scanner copies any partial packet.
      onread: {
        buffer: readBuffer,
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          this.onData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
          return true;
        },
      },
    });
    this.socket.on('connect', () => {
      const keepAlive = spec.role === 'idle' ? IDLE_KEEP_ALIVE_S : 0;
      this.socket.write(connectPacket(spec.clientId, keepAlive));
      if (spec.role === 'sub') this.socket.write(subscribePacket(spec.topic ?? '#', spec.qos));
    });
    this.socket.on('error', (error) => {
      if (this.settle) this.settle(error);
      else if (!finishing) noteError(`${spec.clientId}: ${error.message}`);
    });
    this.socket.on('close', () => {
      if (this.settle) this.settle(new Error('closed during setup'));
      else if (this.ready && !finishing) counters.dropped++;
    });
  }

  /** Resolves once the broker accepted the connection (and the subscription). */
  opened(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no CONNACK within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.settle = null;
        if (error) {
          this.socket.destroy();
          reject(error);
        } else {
          this.ready = true;
          resolve();
        }
      };
      this.settle = finish;
    });
  }

  protected setupDone(error?: Error): void {
    this.settle?.(error);
  }

  protected onData(chunk: Buffer): void {
    // Acknowledgements and, for a publisher, the PUBLISH packets that refill its window leave in
    // one write (corked until the end of this turn).
    this.socket.cork();
    process.nextTick(uncork, this.socket);
    try {
      this.scanner.push(chunk);
    } catch (error) {
      noteError(`${this.spec.clientId}: ${(error as Error).message}`);
      this.socket.destroy();
      return;
    }
    const acks = this.acks.take();
    if (acks) this.socket.write(acks);
  }

  protected onPacket(type: number, _flags: number, buf: Buffer, start: number, end: number): void {
    if (type === PacketType.Connack) {
      // MQTT 3.1.1 §3.2.2.3: the second body byte is the return code, 0 = accepted.
      const code = end - start >= 2 ? buf[start + 1]! : -1;
      if (code !== 0) this.setupDone(new Error(`CONNACK return code ${code}`));
      else if (this.spec.role !== 'sub') this.setupDone();
    } else if (type === PacketType.Suback) {
      // MQTT 3.1.1 §3.9.3: 0x80 is a refused subscription.
      const granted = end - start >= 3 ? buf[start + 2]! : 0x80;
      if (granted === 0x80) this.setupDone(new Error('SUBSCRIBE refused'));
      else if (granted !== this.spec.qos) this.setupDone(new Error(`granted QoS ${granted}`));
      else this.setupDone();
    }
  }
}

function uncork(socket: Socket): void {
  socket.uncork();
}

class IdleClient extends Client {}

class Subscriber extends Client {
  private chunkTime = 0;

  protected override onData(chunk: Buffer): void {
    this.chunkTime = nowMicros();
    const before = counters.received;
    super.onData(chunk);
    if (counters.received !== before) {
      counters.lastReceiveAt = this.chunkTime;
      mirrorCounters();
    }
  }

  protected override onPacket(
    type: number,
    flags: number,
    buf: Buffer,
    start: number,
    end: number,
  ): void {
    if (type === PacketType.Publish) {
      const qos = (flags >> 1) & 3;
      let cursor = start + 2 + buf.readUInt16BE(start);
      if (qos > 0) {
        const id = buf.readUInt16BE(cursor);
        cursor += 2;
        this.acks.add(qos === 1 ? AckHeader.Puback : AckHeader.Pubrec, id);
      }
      counters.received++;
      if (end - cursor >= STAMP_BYTES) histogram.record(this.chunkTime - buf.readDoubleBE(cursor));
    } else if (type === PacketType.Pubrel) {
      this.acks.add(AckHeader.Pubcomp, buf.readUInt16BE(start));
    } else {
      super.onPacket(type, flags, buf, start, end);
    }
  }
}

class Publisher extends Client {
  private readonly template: PublishTemplate;
  private readonly image: Buffer;
  private readonly inflight: Uint8Array;
  private inflightCount = 0;
  private nextId = 1;
  private deadline = 0;
  private sending = false;
  private onIdle: (() => void) | null = null;
  /** Pacing (`spec.rate`): when this run started and how many were sent since. */
  private startedAt = 0;
  private sentThisRun = 0;
  private paceTimer: NodeJS.Timeout | null = null;

  constructor(spec: ClientSpec, host: string, port: number) {
    super(spec, host, port);
    this.template = publishTemplate(spec.topic ?? 'bench', spec.qos, spec.payloadSize);
    const batch = spec.qos === 0 ? QOS0_BATCH : 1;
    const size = this.template.bytes.length;
    this.image = Buffer.allocUnsafe(batch * size);
    for (let i = 0; i < batch; i++) this.template.bytes.copy(this.image, i * size);
    this.inflight = new Uint8Array(spec.qos === 0 ? 0 : 65536);
  }

  get unacked(): number {
    return this.inflightCount;
  }

  /** Publishes until `durationMs` has passed. */
  start(durationMs: number): void {
    this.startedAt = nowMicros();
    this.sentThisRun = 0;
    this.deadline = this.startedAt + durationMs * 1000;
    this.sending = true;
    setTimeout(() => this.pump(), durationMs + 1).unref();
    this.pump();
  }

  /** Resolves when nothing is left in flight or in the socket buffer (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const check = (): void => {
        if (!this.sending && this.inflightCount === 0 && this.socket.writableLength === 0) done();
      };
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.onIdle = check;
      this.socket.on('drain', check);
      check();
    });
  }

  private readonly pump = (): void => {
    if (!this.sending || this.socket.destroyed) return;
    if (this.spec.qos === 0) this.pumpQos0();
    else this.pumpWindow();
  };

  /**
   * How many messages pacing lets go now (all of them without `spec.rate`); when none, arms a
   * timer for the next one.
   */
  private paced(now: number): number {
    const rate = this.spec.rate ?? 0;
    if (rate <= 0) return Number.POSITIVE_INFINITY;
    const due = Math.floor((rate * (now - this.startedAt)) / 1e6) + 1 - this.sentThisRun;
    if (due > 0) return due;
    if (this.paceTimer === null) {
      const nextAt = this.startedAt + (this.sentThisRun / rate) * 1e6;
      this.paceTimer = setTimeout(
        () => {
          this.paceTimer = null;
          this.pump();
        },
        Math.max(1, Math.ceil((nextAt - now) / 1000)),
      );
    }
    return 0;
  }

  /** QoS 0 packets per write: fewer when flow control's window holds fewer messages. */
  private batchSize(): number {
    if (flowState.shared === null) return QOS0_BATCH;
    const fits = Math.floor(flowState.window / flowState.subscribers);
    return Math.max(1, Math.min(QOS0_BATCH, fits));
  }

  private pumpQos0(): void {
    const { stampOffset } = this.template;
    const size = this.template.bytes.length;
    for (let turn = 0; turn < QOS0_WRITES_PER_TURN; turn++) {
      const now = nowMicros();
      if (now >= this.deadline) {
        this.stopSending();
        return;
      }
      if (!flowAllows(this.batchSize(), now)) {
        setTimeout(this.pump, FLOW_RECHECK_MS);
        return;
      }
      const count = Math.min(this.batchSize(), this.paced(now));
      if (count <= 0) return;
      if (counters.firstSendAt === 0) counters.firstSendAt = now;
      this.sentThisRun += count;
      const batch = Buffer.from(this.image.subarray(0, count * size));
      for (let i = 0; i < count; i++) batch.writeDoubleBE(now, i * size + stampOffset);
      counters.sent += count;
      mirrorCounters();
      if (!this.socket.write(batch)) {
        this.socket.once('drain', this.pump);
        return;
      }
    }
    setImmediate(this.pump);
  }

  private pumpWindow(): void {
    const now = nowMicros();
    if (now >= this.deadline) {
      this.stopSending();
      return;
    }
    const room = Math.min(this.spec.window - this.inflightCount, this.paced(now));
    if (room <= 0) return;
    if (counters.firstSendAt === 0) counters.firstSendAt = now;
    this.sentThisRun += room;
    const { idOffset, stampOffset } = this.template;
    const size = this.template.bytes.length;
    const batch = Buffer.allocUnsafe(room * size);
    for (let i = 0; i < room; i++) {
      const base = i * size;
      this.template.bytes.copy(batch, base);
      const id = this.takeId();
      batch.writeUInt16BE(id, base + idOffset);
      batch.writeDoubleBE(now, base + stampOffset);
    }
    this.inflightCount += room;
    counters.sent += room;
    counters.unacked += room;
    this.socket.write(batch);
  }

  /** The next packet identifier not in flight (MQTT-2.3.1-1: non-zero, unused). */
  private takeId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1;
      if (this.inflight[id] === 0) {
        this.inflight[id] = 1;
        return id;
      }
    }
    throw new Error('no free packet identifier');
  }

  private complete(id: number): void {
    if (this.inflight[id] !== 1) return;
    this.inflight[id] = 0;
    this.inflightCount--;
    counters.unacked--;
    counters.acked++;
  }

  private stopSending(): void {
    this.sending = false;
    this.onIdle?.();
  }

  protected override onData(chunk: Buffer): void {
    super.onData(chunk);
    // QoS 0 publishers drive themselves; QoS 1/2 ones refill their window as acks arrive.
    if (this.sending && this.spec.qos !== 0) this.pump();
    else if (!this.sending) this.onIdle?.();
  }

  protected override onPacket(
    type: number,
    flags: number,
    buf: Buffer,
    start: number,
    end: number,
  ): void {
    if (type === PacketType.Puback || type === PacketType.Pubcomp) {
      this.complete(buf.readUInt16BE(start));
    } else if (type === PacketType.Pubrec) {
      this.acks.add(AckHeader.Pubrel, buf.readUInt16BE(start));
    } else {
      super.onPacket(type, flags, buf, start, end);
    }
  }
}

async function connectAll(message: Extract<ToWorker, { type: 'connect' }>): Promise<FromWorker> {
  const started = Date.now();
  const deadline = started + message.timeoutMs;
  let next = 0;
  let ok = 0;
  let failed = 0;
  const setupErrors: string[] = [];
  const lane = async (): Promise<void> => {
    while (next < message.clients.length) {
      const spec = message.clients[next++]!;
      const left = deadline - Date.now();
      if (left <= 0) {
        failed++;
        continue;
      }
      const client =
        spec.role === 'pub'
          ? new Publisher(spec, message.host, message.port)
          : spec.role === 'sub'
            ? new Subscriber(spec, message.host, message.port)
            : new IdleClient(spec, message.host, message.port);
      try {
        await client.opened(Math.min(CONNECT_TIMEOUT_MS, left));
        clients.push(client);
        if (client instanceof Publisher) publishers.push(client);
        ok++;
      } catch (error) {
        failed++;
        if (setupErrors.length < MAX_ERRORS_KEPT) {
          setupErrors.push(`${spec.clientId}: ${(error as Error).message}`);
        }
      }
    }
  };
  const lanes = Math.max(1, Math.min(message.concurrency, message.clients.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return {
    type: 'connected',
    ok,
    failed,
    errors: setupErrors,
    seconds: (Date.now() - started) / 1000,
  };
}

async function publish(message: Extract<ToWorker, { type: 'start' }>): Promise<FromWorker> {
  const { durationMs, settleMs, flow } = message;
  if (flow) {
    flowState.shared = new Float64Array(flow.buffer);
    flowState.slot = flow.slot;
    flowState.subscribers = flow.subscribers;
    flowState.window = flow.window;
    mirrorCounters();
  }
  for (const publisher of publishers) publisher.start(durationMs);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  await Promise.all(publishers.map((publisher) => publisher.idle(settleMs)));
  return { type: 'published', ...counters };
}

function finalReport(): FromWorker {
  finishing = true;
  for (const client of clients) client.socket.destroy();
  return {
    type: 'final',
    ...counters,
    histogram: histogram.toJSON(),
    latencyMax: histogram.max,
    errors,
  };
}

/** The channel to the harness: the worker port for a thread, IPC for a child process. */
const channel = {
  send(message: FromWorker, then?: () => void): void {
    if (parentPort) {
      parentPort.postMessage(message);
      then?.();
    } else if (process.send) {
      process.send(message, undefined, undefined, () => then?.());
    }
  },
  onMessage(handler: (message: ToWorker) => void): void {
    if (parentPort) parentPort.on('message', handler);
    else {
      process.on('message', (message) => handler(message as ToWorker));
      // The harness died: nothing will ever ask for results, so do not linger.
      process.on('disconnect', () => process.exit(0));
    }
  },
};

channel.onMessage((message) => {
  const reply = (work: Promise<FromWorker> | FromWorker, then?: () => void): void => {
    Promise.resolve(work).then(
      (out) => channel.send(out, then),
      (error: Error) => channel.send({ type: 'error', message: error.stack ?? error.message }),
    );
  };
  switch (message.type) {
    case 'connect':
      reply(connectAll(message));
      break;
    case 'start':
      reply(publish(message));
      break;
    case 'stats':
      reply({ type: 'stats', ...counters, unacked: publishers.reduce((n, p) => n + p.unacked, 0) });
      break;
    case 'reset':
      resetCounters();
      reply({ type: 'stats', ...counters });
      break;
    case 'finish':
      reply(finalReport(), () => {
        if (!parentPort) process.exit(0);
      });
      break;
  }
});

/**
 * The CoAP load generator: confirmable requests from many UDP sockets (each its own peer, so no
 * message ID repeats within EXCHANGE_LIFETIME), a fixed window of outstanding requests per
 * socket, pre-encoded datagrams with the message ID and token stamped into a copy. Runs in the
 * parent process; its CPU time is reported beside the target's so the bottleneck shows.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface LoadResult {
  sent: number;
  answered: number;
  seconds: number;
  /** Answers per second. */
  rate: number;
}

export interface LoadSpec {
  port: number;
  sockets: Socket[];
  /** The next datagram of a socket, with the message ID given (unique per socket). */
  next: (socketIndex: number, messageId: number) => Buffer;
  /** Is this datagram the answer we count (e.g. byte 1 is the expected code)? */
  counts: (datagram: Buffer) => boolean;
  window: number;
  durationMs: number;
}

export async function openSockets(count: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const s = createSocket({
            type: 'udp4',
            recvBufferSize: 1 << 20,
            sendBufferSize: 1 << 20,
          });
          s.bind(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
}

export function closeSockets(sockets: readonly Socket[]): void {
  for (const s of sockets) s.close();
}

/** Sets the message ID (bytes 2-3) and a 4-byte token (bytes 4-7) of an encoded message. */
export function stamp(datagram: Buffer, messageId: number, token: number): Buffer {
  datagram.writeUInt16BE(messageId & 0xffff, 2);
  datagram.writeUInt32BE(token >>> 0, 4);
  return datagram;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const { sockets, window } = spec;
  const inflight = new Array<number>(sockets.length).fill(0);
  const lastAnswer = new Array<number>(sockets.length).fill(Date.now());
  const mids = sockets.map((_, i) => (i * 7919) & 0xffff);
  let sent = 0;
  let answered = 0;
  let running = true;
  const fire = (i: number) => {
    const mid = mids[i]!;
    mids[i] = (mid + 1) & 0xffff;
    const datagram = spec.next(i, mid);
    inflight[i]!++;
    sent++;
    sockets[i]!.send(datagram, spec.port, '127.0.0.1');
  };
  const listeners = sockets.map((socket, i) => {
    const onMessage = (msg: Buffer) => {
      if (!spec.counts(msg)) return;
      answered++;
      inflight[i] = Math.max(0, inflight[i]! - 1);
      lastAnswer[i] = Date.now();
      if (running) fire(i);
    };
    socket.on('message', onMessage);
    return onMessage;
  });
  const started = process.hrtime.bigint();
  for (let i = 0; i < sockets.length; i++) for (let w = 0; w < window; w++) fire(i);
  // A datagram lost on loopback would shrink a socket's window for good: refill stalled ones.
  const refill = setInterval(() => {
    const now = Date.now();
    for (let i = 0; i < sockets.length; i++) {
      if (now - lastAnswer[i]! > 250) {
        inflight[i] = 0;
        lastAnswer[i] = now;
        for (let w = 0; w < window; w++) fire(i);
      }
    }
  }, 100);
  await new Promise((r) => setTimeout(r, spec.durationMs));
  running = false;
  clearInterval(refill);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const [i, s] of sockets.entries()) s.off('message', listeners[i]!);
  return { sent, answered, seconds, rate: answered / seconds };
}

export interface CountedLoadSpec {
  port: number;
  sockets: Socket[];
  next: (socketIndex: number, messageId: number) => Buffer;
  /** The target's own count of what it took in so far (nothing comes back on the wire). */
  taken: () => Promise<number>;
  /** Datagrams sent but not yet counted by the target, at most. */
  budget: number;
  durationMs: number;
}

/**
 * Load of datagrams that get no answer (NON notifications, RFC 7252 §4.3): flow control by the
 * target's own counter, read every 2 ms, so that at most `budget` datagrams are outstanding and
 * the socket buffers never overflow. The rate counts what the target took in.
 */
export async function runCountedLoad(spec: CountedLoadSpec): Promise<LoadResult> {
  const { sockets } = spec;
  const mids = sockets.map((_, i) => (i * 7919) & 0xffff);
  const base = await spec.taken();
  let sent = 0;
  let taken = 0;
  let turn = 0;
  const topUp = () => {
    while (sent - taken < spec.budget) {
      const i = turn;
      turn = (turn + 1) % sockets.length;
      const mid = mids[i]!;
      mids[i] = (mid + 1) & 0xffff;
      sent++;
      sockets[i]!.send(spec.next(i, mid), spec.port, '127.0.0.1');
    }
  };
  const started = process.hrtime.bigint();
  const deadline = Date.now() + spec.durationMs;
  topUp();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2));
    taken = (await spec.taken()) - base;
    if (Date.now() < deadline) topUp();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { sent, answered: taken, seconds, rate: taken / seconds };
}

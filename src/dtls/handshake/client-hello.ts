import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';
import { type Extension, readExtensions, writeExtensions } from './extensions.js';

/** RFC 6347 §4.2.1 / RFC 5246 §7.4.1.2 ClientHello with the DTLS cookie. */
export interface ClientHello {
  clientVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: Buffer;
  extensions: Extension[];
}

export function parseClientHello(body: Buffer): ClientHello {
  const r = new ByteReader(body);
  const clientVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8(0, 32);
  const cookie = r.vec8(0, 255);
  const suites = new ByteReader(r.vec16(2, 0xfffe));
  const cipherSuites: number[] = [];
  while (suites.remaining > 0) cipherSuites.push(suites.u16());
  const compressionMethods = r.vec8(1);
  const extensions = readExtensions(r);
  r.end();
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

export function serializeClientHello(m: ClientHello): Buffer {
  const w = new ByteWriter().u16(m.clientVersion).bytes(m.random).vec8(m.sessionId).vec8(m.cookie);
  const suites = new ByteWriter();
  for (const s of m.cipherSuites) suites.u16(s);
  w.vec16(suites.finish()).vec8(m.compressionMethods);
  writeExtensions(w, m.extensions);
  return w.finish();
}

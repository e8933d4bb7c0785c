import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';
import { type Extension, readExtensions, writeExtensions } from './extensions.js';

/** RFC 5246 §7.4.1.3 ServerHello. */
export interface ServerHello {
  serverVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

export function parseServerHello(body: Buffer): ServerHello {
  const r = new ByteReader(body);
  const serverVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8(0, 32);
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = readExtensions(r);
  r.end();
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

export function serializeServerHello(m: ServerHello): Buffer {
  const w = new ByteWriter()
    .u16(m.serverVersion)
    .bytes(m.random)
    .vec8(m.sessionId)
    .u16(m.cipherSuite)
    .u8(m.compressionMethod);
  writeExtensions(w, m.extensions);
  return w.finish();
}

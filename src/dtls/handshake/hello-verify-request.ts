import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/** RFC 6347 §4.2.1 HelloVerifyRequest: server_version and a cookie of at most 255 bytes. */
export interface HelloVerifyRequest {
  serverVersion: number;
  cookie: Buffer;
}

export function parseHelloVerifyRequest(body: Buffer): HelloVerifyRequest {
  const r = new ByteReader(body);
  const serverVersion = r.u16();
  const cookie = r.vec8(0, 255);
  r.end();
  return { serverVersion, cookie };
}

export function serializeHelloVerifyRequest(m: HelloVerifyRequest): Buffer {
  return new ByteWriter().u16(m.serverVersion).vec8(m.cookie).finish();
}

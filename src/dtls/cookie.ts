import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import type { ClientHello } from './handshake/client-hello.js';

/**
 * RFC 6347 §4.2.1: stateless cookies, Cookie = HMAC(Secret, Client-IP, Client-Parameters).
 * The secret rotates every `rotateMs`; a cookie made with the previous secret is still accepted,
 * so a client caught by a rotation between its two ClientHellos is not refused.
 */
export class CookieJar {
  #secret = randomBytes(32);
  #previous: Buffer | undefined;
  #rotatedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly rotateMs = 5 * 60_000,
  ) {
    this.#rotatedAt = clock.now();
  }

  make(address: string, port: number, hello: ClientHello): Buffer {
    this.#rotate();
    return this.#mac(this.#secret, address, port, hello);
  }

  verify(address: string, port: number, hello: ClientHello): boolean {
    this.#rotate();
    if (hello.cookie.length !== 32) return false;
    for (const secret of [this.#secret, this.#previous]) {
      if (secret && timingSafeEqual(hello.cookie, this.#mac(secret, address, port, hello)))
        return true;
    }
    return false;
  }

  #rotate(): void {
    if (this.clock.now() - this.#rotatedAt < this.rotateMs) return;
    this.#previous = this.#secret;
    this.#secret = randomBytes(32);
    this.#rotatedAt = this.clock.now();
  }

  /** RFC 6347 §4.2.1: the second ClientHello repeats the parameters of the first. */
  #mac(secret: Buffer, address: string, port: number, hello: ClientHello): Buffer {
    const h = createHmac('sha256', secret);
    h.update(`${address}|${port}|`);
    const fixed = Buffer.alloc(2);
    fixed.writeUInt16BE(hello.clientVersion);
    h.update(fixed).update(hello.random).update(hello.sessionId);
    for (const s of hello.cipherSuites) {
      fixed.writeUInt16BE(s);
      h.update(fixed);
    }
    h.update(hello.compressionMethods);
    return h.digest();
  }
}

import { createHash, createHmac } from 'node:crypto';

/** RFC 5246 §5: P_SHA256(secret, seed), expanded to `length` bytes. */
export function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let a = seed; // A(0) = seed
  while (total < length) {
    a = createHmac('sha256', secret).update(a).digest(); // A(i) = HMAC_hash(secret, A(i-1))
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RFC 5246 §5: PRF(secret, label, seed) = P_SHA256(secret, label + seed) for TLS 1.2 suites. */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'ascii'), seed]), length);
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 4279 §2: the PSK premaster secret is uint16 N, N zero bytes, uint16 N, the PSK. */
export function pskPremasterSecret(psk: Buffer, otherSecret?: Buffer): Buffer {
  const other = otherSecret ?? Buffer.alloc(psk.length);
  const out = Buffer.alloc(4 + other.length + psk.length);
  out.writeUInt16BE(other.length, 0);
  other.copy(out, 2);
  out.writeUInt16BE(psk.length, 2 + other.length);
  psk.copy(out, 4 + other.length);
  return out;
}

/**
 * RFC 5246 §8.1 master secret, or RFC 7627 §4 extended master secret over the session hash
 * (the hash of the handshake messages up to and including ClientKeyExchange).
 */
export function masterSecret(
  premaster: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
  sessionHash?: Buffer,
): Buffer {
  if (sessionHash) return prf(premaster, 'extended master secret', sessionHash, 48);
  return prf(premaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

/** RFC 5246 §6.3: key_block = PRF(master, "key expansion", server_random + client_random). */
export function keyBlock(
  master: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
  length: number,
): Buffer {
  return prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), length);
}

/** RFC 5246 §7.4.9: verify_data is 12 bytes of PRF over the handshake hash. */
export function finishedVerifyData(
  master: Buffer,
  role: 'client' | 'server',
  handshakeHash: Buffer,
): Buffer {
  return prf(master, `${role} finished`, handshakeHash, 12);
}

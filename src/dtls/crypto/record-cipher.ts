import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/**
 * Record protection of one direction of one epoch: the AEAD suites (AES-128-CCM_8, RFC 6655 /
 * RFC 7925; AES-128-GCM, RFC 5288) and AES-128-CBC with HMAC-SHA256 (RFC 5246 §6.2.3.2).
 * `aad` is the additional data of RFC 5246 §6.2.3.3 (or of RFC 9146 §5 for CID records), built
 * by the record layer for the plaintext length.
 */
export interface RecordCipher {
  /** Bytes added to a plaintext of length n, used to size fragments. */
  overhead(plaintextLength: number): number;
  encrypt(epochSeq: Buffer, aad: (plaintextLength: number) => Buffer, plaintext: Buffer): Buffer;
  /** The plaintext, or undefined if the record does not authenticate (RFC 6347 §4.1.2.7). */
  decrypt(
    epochSeq: Buffer,
    aad: (plaintextLength: number) => Buffer,
    fragment: Buffer,
  ): Buffer | undefined;
}

/** Parameters of a suite's bulk encryption (RFC 5246 §6.3 key block layout). */
export interface CipherParams {
  kind: 'ccm8' | 'gcm' | 'cbc-sha256';
  macKeyLength: number;
  encKeyLength: number;
  fixedIvLength: number;
}

export const CCM8: CipherParams = {
  kind: 'ccm8',
  macKeyLength: 0,
  encKeyLength: 16,
  fixedIvLength: 4,
};
export const GCM: CipherParams = {
  kind: 'gcm',
  macKeyLength: 0,
  encKeyLength: 16,
  fixedIvLength: 4,
};
export const CBC_SHA256: CipherParams = {
  kind: 'cbc-sha256',
  macKeyLength: 32,
  encKeyLength: 16,
  fixedIvLength: 0,
};

/** Encrypts with AES-128-CCM with a given tag length (RFC 3610), as node:crypto implements it. */
export function ccmEncrypt(
  key: Buffer,
  nonce: Buffer,
  aad: Buffer,
  plaintext: Buffer,
  tagLength: number,
): Buffer {
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: tagLength });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([ct, c.getAuthTag()]);
}

/** The plaintext, or undefined when the tag does not verify. */
export function ccmDecrypt(
  key: Buffer,
  nonce: Buffer,
  aad: Buffer,
  ciphertextAndTag: Buffer,
  tagLength: number,
): Buffer | undefined {
  if (ciphertextAndTag.length < tagLength) return undefined;
  const ct = ciphertextAndTag.subarray(0, ciphertextAndTag.length - tagLength);
  const tag = ciphertextAndTag.subarray(ciphertextAndTag.length - tagLength);
  try {
    const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: tagLength });
    d.setAuthTag(tag);
    d.setAAD(aad, { plaintextLength: ct.length });
    const pt = d.update(ct);
    d.final();
    return pt;
  } catch {
    return undefined;
  }
}

/**
 * AEAD record protection. RFC 6655 §3 / RFC 5288 §3: nonce = salt (client_write_IV or
 * server_write_IV, 4 bytes) + nonce_explicit (8 bytes); RFC 7925 §4.4.1 / RFC 6347 §4.1.2.1: the
 * explicit nonce is the 16-bit epoch and 48-bit sequence number of the record.
 */
export class AeadRecordCipher implements RecordCipher {
  readonly #tagLength: number;
  constructor(
    readonly kind: 'ccm8' | 'gcm',
    readonly key: Buffer,
    readonly salt: Buffer,
  ) {
    this.#tagLength = kind === 'ccm8' ? 8 : 16;
  }

  overhead(): number {
    return 8 + this.#tagLength;
  }

  nonce(epochSeq: Buffer): Buffer {
    return Buffer.concat([this.salt, epochSeq]);
  }

  encrypt(epochSeq: Buffer, aad: (n: number) => Buffer, plaintext: Buffer): Buffer {
    const nonce = this.nonce(epochSeq);
    const additional = aad(plaintext.length);
    if (this.kind === 'ccm8') {
      return Buffer.concat([epochSeq, ccmEncrypt(this.key, nonce, additional, plaintext, 8)]);
    }
    const c = createCipheriv('aes-128-gcm', this.key, nonce, { authTagLength: 16 });
    c.setAAD(additional);
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([epochSeq, ct, c.getAuthTag()]);
  }

  decrypt(_epochSeq: Buffer, aad: (n: number) => Buffer, fragment: Buffer): Buffer | undefined {
    if (fragment.length < 8 + this.#tagLength) return undefined;
    const explicit = fragment.subarray(0, 8);
    const body = fragment.subarray(8);
    const nonce = this.nonce(explicit);
    const additional = aad(body.length - this.#tagLength);
    if (this.kind === 'ccm8') return ccmDecrypt(this.key, nonce, additional, body, 8);
    try {
      const d = createDecipheriv('aes-128-gcm', this.key, nonce, { authTagLength: 16 });
      d.setAuthTag(body.subarray(body.length - 16));
      d.setAAD(additional);
      const pt = d.update(body.subarray(0, body.length - 16));
      d.final();
      return pt;
    } catch {
      return undefined;
    }
  }
}

/**
 * RFC 5246 §6.2.3.2 GenericBlockCipher, MAC-then-encrypt: IV (16) + AES-CBC(content + MAC + padding).
 * MAC = HMAC-SHA256(mac_key, seq_num + type + version + length + content) (RFC 5246 §6.2.3.1).
 */
export class CbcHmacRecordCipher implements RecordCipher {
  constructor(
    readonly macKey: Buffer,
    readonly key: Buffer,
  ) {}

  overhead(n: number): number {
    const inner = n + 32;
    return 16 + inner + (16 - (inner % 16)) - n;
  }

  encrypt(_epochSeq: Buffer, aad: (n: number) => Buffer, plaintext: Buffer): Buffer {
    const mac = createHmac('sha256', this.macKey)
      .update(aad(plaintext.length))
      .update(plaintext)
      .digest();
    const inner = plaintext.length + mac.length;
    const padLength = 15 - (inner % 16); // RFC 5246 §6.2.3.2: padding bytes all equal padding_length
    const padding = Buffer.alloc(padLength + 1, padLength);
    const iv = randomBytes(16);
    const c = createCipheriv('aes-128-cbc', this.key, iv);
    c.setAutoPadding(false);
    const ct = Buffer.concat([c.update(Buffer.concat([plaintext, mac, padding])), c.final()]);
    return Buffer.concat([iv, ct]);
  }

  decrypt(_epochSeq: Buffer, aad: (n: number) => Buffer, fragment: Buffer): Buffer | undefined {
    if (fragment.length < 16 + 48 || fragment.length % 16 !== 0) return undefined;
    let pt: Buffer;
    try {
      const d = createDecipheriv('aes-128-cbc', this.key, fragment.subarray(0, 16));
      d.setAutoPadding(false);
      pt = Buffer.concat([d.update(fragment.subarray(16)), d.final()]);
    } catch {
      return undefined;
    }
    // RFC 5246 §6.2.3.2 implementation note: check padding and MAC without an early exit on bad
    // padding, so that the time does not reveal which failed (Lucky Thirteen, best effort).
    const padLength = pt[pt.length - 1]!;
    let good = padLength + 1 + 32 <= pt.length;
    const effectivePad = good ? padLength : 0;
    for (let i = 0; i <= effectivePad; i++) {
      if (pt[pt.length - 1 - i] !== padLength) good = false;
    }
    const contentLength = pt.length - (effectivePad + 1) - 32;
    const content = pt.subarray(0, contentLength);
    const mac = pt.subarray(contentLength, contentLength + 32);
    const expected = createHmac('sha256', this.macKey)
      .update(aad(contentLength))
      .update(content)
      .digest();
    const macGood = timingSafeEqual(mac, expected);
    return good && macGood ? content : undefined;
  }
}

/** The key block of RFC 5246 §6.3 split into the two directions' ciphers. */
export function recordCiphers(
  params: CipherParams,
  block: Buffer,
): { client: RecordCipher; server: RecordCipher } {
  let o = 0;
  const take = (n: number) => {
    const b = Buffer.from(block.subarray(o, o + n));
    o += n;
    return b;
  };
  const clientMac = take(params.macKeyLength);
  const serverMac = take(params.macKeyLength);
  const clientKey = take(params.encKeyLength);
  const serverKey = take(params.encKeyLength);
  const clientIv = take(params.fixedIvLength);
  const serverIv = take(params.fixedIvLength);
  if (params.kind === 'cbc-sha256') {
    return {
      client: new CbcHmacRecordCipher(clientMac, clientKey),
      server: new CbcHmacRecordCipher(serverMac, serverKey),
    };
  }
  return {
    client: new AeadRecordCipher(params.kind, clientKey, clientIv),
    server: new AeadRecordCipher(params.kind, serverKey, serverIv),
  };
}

export function keyBlockLength(params: CipherParams): number {
  return 2 * (params.macKeyLength + params.encKeyLength + params.fixedIvLength);
}

import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { CipherSuites } from '../../src/dtls/cipher-suites.js';
import {
  finishedVerifyData,
  masterSecret,
  prf,
  pskPremasterSecret,
} from '../../src/dtls/crypto/prf.js';
import {
  AeadRecordCipher,
  CbcHmacRecordCipher,
  ccmDecrypt,
  ccmEncrypt,
  keyBlockLength,
  recordCiphers,
} from '../../src/dtls/crypto/record-cipher.js';
import { additionalData, epochSeq } from '../../src/dtls/record/record.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('TLS 1.2 PRF', () => {
  it('matches the published P_SHA256 test vector (RFC 5246 §5)', () => {
    // The TLS 1.2 PRF vector for SHA-256 posted to the IETF TLS list (secret, seed, "test label").
    const out = prf(
      hex('9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35'),
      'test label',
      hex('a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c'),
      100,
    );
    assert.equal(
      out.toString('hex'),
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af' +
        '0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff7' +
        '0187347b66',
    );
  });

  it('builds the PSK premaster secret as uint16 N, N zeros, uint16 N, psk (RFC 4279 §2)', () => {
    assert.equal(pskPremasterSecret(hex('aabb')).toString('hex'), '000200000002aabb');
  });

  it('derives a different master secret with extended master secret (RFC 7627 §4)', () => {
    const pm = pskPremasterSecret(hex('0102'));
    const cr = Buffer.alloc(32, 1);
    const sr = Buffer.alloc(32, 2);
    const plain = masterSecret(pm, cr, sr);
    const ems = masterSecret(pm, cr, sr, Buffer.alloc(32, 3));
    assert.equal(plain.length, 48);
    assert.equal(ems.length, 48);
    assert.notDeepEqual(plain, ems);
    assert.deepEqual(ems, prf(pm, 'extended master secret', Buffer.alloc(32, 3), 48));
  });

  it('makes 12 bytes of Finished verify_data (RFC 5246 §7.4.9)', () => {
    const v = finishedVerifyData(Buffer.alloc(48), 'client', Buffer.alloc(32));
    assert.equal(v.length, 12);
    assert.notDeepEqual(v, finishedVerifyData(Buffer.alloc(48), 'server', Buffer.alloc(32)));
  });
});

describe('AES-128-CCM', () => {
  const key = hex('C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF');

  it('encrypts packet vector #1 with M=8, L=2 (RFC 3610 §8)', () => {
    const packet = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E');
    const nonce = hex('00000003020100A0A1A2A3A4A5');
    const out = ccmEncrypt(key, nonce, packet.subarray(0, 8), packet.subarray(8), 8);
    assert.equal(
      out.toString('hex'),
      '588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0',
    );
    assert.deepEqual(ccmDecrypt(key, nonce, packet.subarray(0, 8), out, 8), packet.subarray(8));
  });

  it('encrypts packet vector #2 with M=8, L=2 (RFC 3610 §8)', () => {
    const packet = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
    const nonce = hex('00000004030201A0A1A2A3A4A5');
    const out = ccmEncrypt(key, nonce, packet.subarray(0, 8), packet.subarray(8), 8);
    assert.equal(
      out.toString('hex'),
      '72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916',
    );
  });

  it('refuses a tampered tag (RFC 3610 §2.6)', () => {
    const nonce = hex('00000003020100A0A1A2A3A4A5');
    const out = ccmEncrypt(key, nonce, Buffer.alloc(0), Buffer.from('hello'), 8);
    out[out.length - 1]! ^= 1;
    assert.equal(ccmDecrypt(key, nonce, Buffer.alloc(0), out, 8), undefined);
  });
});

describe('record protection', () => {
  const key = hex('000102030405060708090a0b0c0d0e0f');
  const salt = hex('a0a1a2a3');

  it('CCM_8 records carry epoch+seq as explicit nonce after the 4-byte salt (RFC 6655 §3, RFC 7925 §4.4.1)', () => {
    const cipher = new AeadRecordCipher('ccm8', key, salt);
    const es = epochSeq(1, 0x0102030405);
    const aadOf = (n: number) => additionalData(23, 0xfefd, 1, 0x0102030405, undefined, n);
    const record = cipher.encrypt(es, aadOf, Buffer.from('data'));
    assert.equal(record.subarray(0, 8).toString('hex'), '0001000102030405');
    assert.equal(record.length, 8 + 4 + 8); // explicit nonce, ciphertext, 8-byte tag
    // Independently: AES-128-CCM, 12-byte nonce = salt + explicit nonce, AAD = seq_num + type +
    // version + length (RFC 5246 §6.2.3.3).
    const nonce = Buffer.concat([salt, record.subarray(0, 8)]);
    const aad = hex('0001000102030405 17 fefd 0004');
    const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
    d.setAuthTag(record.subarray(12));
    d.setAAD(aad, { plaintextLength: 4 });
    assert.equal(d.update(record.subarray(8, 12)).toString(), 'data');
    assert.deepEqual(cipher.decrypt(es, aadOf, record), Buffer.from('data'));
  });

  it('refuses a CCM_8 record whose header was changed (RFC 5246 §6.2.3.3)', () => {
    const cipher = new AeadRecordCipher('ccm8', key, salt);
    const es = epochSeq(1, 7);
    const record = cipher.encrypt(
      es,
      (n) => additionalData(23, 0xfefd, 1, 7, undefined, n),
      Buffer.from('x'),
    );
    assert.equal(
      cipher.decrypt(es, (n) => additionalData(22, 0xfefd, 1, 7, undefined, n), record),
      undefined,
    );
  });

  it('GCM records carry a 16-byte tag (RFC 5288 §3)', () => {
    const cipher = new AeadRecordCipher('gcm', key, salt);
    const es = epochSeq(1, 1);
    const aadOf = (n: number) => additionalData(23, 0xfefd, 1, 1, undefined, n);
    const record = cipher.encrypt(es, aadOf, Buffer.from('data'));
    assert.equal(record.length, 8 + 4 + 16);
    assert.deepEqual(cipher.decrypt(es, aadOf, record), Buffer.from('data'));
    record[10]! ^= 1;
    assert.equal(cipher.decrypt(es, aadOf, record), undefined);
  });

  it('CBC-HMAC-SHA256 records round-trip and refuse a flipped bit (RFC 5246 §6.2.3.2)', () => {
    const cipher = new CbcHmacRecordCipher(Buffer.alloc(32, 9), key);
    const es = epochSeq(1, 3);
    const aadOf = (n: number) => additionalData(23, 0xfefd, 1, 3, undefined, n);
    for (const size of [0, 1, 15, 16, 47, 100]) {
      const pt = Buffer.alloc(size, 0x41);
      const record = cipher.encrypt(es, aadOf, pt);
      assert.equal(record.length % 16, 0);
      assert.equal(record.length - pt.length, cipher.overhead(pt.length));
      assert.deepEqual(cipher.decrypt(es, aadOf, record), pt);
      record[record.length - 20]! ^= 1;
      assert.equal(cipher.decrypt(es, aadOf, record), undefined);
    }
  });

  it('splits the key block into MAC keys, write keys and IVs (RFC 5246 §6.3)', () => {
    const suite = CipherSuites.TLS_PSK_WITH_AES_128_CCM_8;
    assert.equal(keyBlockLength(suite.cipher), 40);
    const block = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
    const { client, server } = recordCiphers(suite.cipher, block);
    assert.equal(
      (client as AeadRecordCipher).key.toString('hex'),
      block.subarray(0, 16).toString('hex'),
    );
    assert.equal(
      (server as AeadRecordCipher).key.toString('hex'),
      block.subarray(16, 32).toString('hex'),
    );
    assert.equal((client as AeadRecordCipher).salt.toString('hex'), '20212223');
    assert.equal((server as AeadRecordCipher).salt.toString('hex'), '24252627');
    assert.equal(keyBlockLength(CipherSuites.TLS_PSK_WITH_AES_128_CBC_SHA256.cipher), 96);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCertificate, serializeCertificate } from '../../src/dtls/handshake/certificate.js';
import { parseClientHello, serializeClientHello } from '../../src/dtls/handshake/client-hello.js';
import {
  parseFragments,
  serializeFragment,
  unfragmented,
} from '../../src/dtls/handshake/fragment.js';
import {
  parseHelloVerifyRequest,
  serializeHelloVerifyRequest,
} from '../../src/dtls/handshake/hello-verify-request.js';
import { Reassembler } from '../../src/dtls/handshake/reassembler.js';
import { parseServerHello, serializeServerHello } from '../../src/dtls/handshake/server-hello.js';
import { parseEcdheServerKeyExchange } from '../../src/dtls/handshake/server-key-exchange.js';

const hex = (s: string) => Buffer.from(s.replace(/\s|\|/g, ''), 'hex');

describe('handshake messages', () => {
  it('decodes, encodes and round-trips a ClientHello with a cookie (RFC 6347 §4.2.1)', () => {
    const bytes = hex(
      `
      fefd                                   | client_version DTLS 1.2
      ${'11'.repeat(32)}                     | random
      00                                     | session_id <0>
      04 c0c1c2c3                            | cookie <4>
      0004 c0a8 00ff                         | cipher_suites: PSK_AES_128_CCM_8, EMPTY_RENEGOTIATION_INFO_SCSV
      01 00                                  | compression_methods: null
      0009                                   | extensions <9>
        0017 0000                            |   extended_master_secret (RFC 7627)
        ff01 0001 00                         |   renegotiation_info, empty (RFC 5746)
    `.replace(/\|[^\n]*/g, ''),
    );
    const hello = parseClientHello(bytes);
    assert.equal(hello.clientVersion, 0xfefd);
    assert.deepEqual(hello.cookie, hex('c0c1c2c3'));
    assert.deepEqual(hello.cipherSuites, [0xc0a8, 0x00ff]);
    assert.deepEqual(
      hello.extensions.map((e) => e.type),
      [23, 0xff01],
    );
    assert.deepEqual(serializeClientHello(hello), bytes);
  });

  it('refuses a ClientHello with a duplicate extension (RFC 5246 §7.4.1.4)', () => {
    const hello = parseClientHello(
      serializeClientHello({
        clientVersion: 0xfefd,
        random: Buffer.alloc(32),
        sessionId: Buffer.alloc(0),
        cookie: Buffer.alloc(0),
        cipherSuites: [0xc0a8],
        compressionMethods: hex('00'),
        extensions: [],
      }),
    );
    const twice = serializeClientHello({
      ...hello,
      extensions: [
        { type: 23, data: Buffer.alloc(0) },
        { type: 23, data: Buffer.alloc(0) },
      ],
    });
    assert.throws(() => parseClientHello(twice), { code: 'DTLS_ERR_DECODE_ERROR' });
  });

  it('refuses truncated and oversized vectors in a ClientHello (RFC 5246 §4.3)', () => {
    const good = serializeClientHello({
      clientVersion: 0xfefd,
      random: Buffer.alloc(32),
      sessionId: Buffer.alloc(33), // session_id<0..32>
      cookie: Buffer.alloc(0),
      cipherSuites: [0xc0a8],
      compressionMethods: hex('00'),
      extensions: [],
    });
    assert.throws(() => parseClientHello(good), { code: 'DTLS_ERR_DECODE_ERROR' });
    for (let n = 0; n < 40; n++) {
      assert.throws(() => parseClientHello(good.subarray(0, n)), { code: 'DTLS_ERR_DECODE_ERROR' });
    }
  });

  it('decodes and encodes a HelloVerifyRequest (RFC 6347 §4.2.1)', () => {
    const bytes = hex('feff | 03 aabbcc'.replace(/\|/g, ''));
    assert.deepEqual(parseHelloVerifyRequest(bytes), {
      serverVersion: 0xfeff,
      cookie: hex('aabbcc'),
    });
    assert.deepEqual(serializeHelloVerifyRequest(parseHelloVerifyRequest(bytes)), bytes);
  });

  it('round-trips a ServerHello with extensions (RFC 5246 §7.4.1.3)', () => {
    const hello = {
      serverVersion: 0xfefd,
      random: Buffer.alloc(32, 7),
      sessionId: Buffer.alloc(32, 9),
      cipherSuite: 0xc0a8,
      compressionMethod: 0,
      extensions: [{ type: 0xff01, data: hex('00') }],
    };
    const bytes = serializeServerHello(hello);
    assert.deepEqual(parseServerHello(bytes), hello);
  });

  it('decodes a handshake header and its fragment (RFC 6347 §4.2.2)', () => {
    const bytes = hex(
      `
      14 | msg_type finished
      00000c | length 12
      0003 | message_seq 3
      000004 | fragment_offset 4
      000002 | fragment_length 2
      abcd
    `.replace(/\|[^\n]*/g, ''),
    );
    const [f] = parseFragments(bytes)!;
    assert.deepEqual(f, {
      msgType: 20,
      length: 12,
      messageSeq: 3,
      fragmentOffset: 4,
      fragment: hex('abcd'),
    });
    assert.deepEqual(serializeFragment(f!), bytes);
    assert.equal(
      parseFragments(hex('14 00000c 0003 00000b 000002 abcd'.replace(/ /g, ''))),
      undefined,
      'past the end',
    );
  });

  it('puts messages in the transcript as one fragment (RFC 6347 §4.2.6)', () => {
    assert.deepEqual(unfragmented(14, 2, Buffer.alloc(0)), hex('0e000000000200000000000' + '0'));
  });

  it('reads raw public key and X.509 Certificate messages (RFC 7250 §3, RFC 5246 §7.4.2)', () => {
    const rpk = serializeCertificate({ type: 2, spki: hex('3059') });
    assert.deepEqual(rpk, hex('000002 3059'.replace(/ /g, '')));
    assert.deepEqual(parseCertificate(rpk, 2), { type: 2, spki: hex('3059') });
    const x509 = serializeCertificate({ type: 0, chain: [hex('30'), hex('3031')] });
    assert.deepEqual(x509, hex('000009 000001 30 000002 3031'.replace(/ /g, '')));
    assert.deepEqual(parseCertificate(x509, 0), { type: 0, chain: [hex('30'), hex('3031')] });
  });

  it('refuses a ServerKeyExchange with explicit curve parameters (RFC 8422 §5.4)', () => {
    assert.throws(() => parseEcdheServerKeyExchange(hex('01 0017'.replace(/ /g, ''))), {
      code: 'DTLS_ERR_ILLEGAL_PARAMETER',
    });
  });
});

describe('handshake reassembly (RFC 6347 §4.2.3)', () => {
  const frag = (seq: number, offset: number, data: string, length = 6, type = 11) => ({
    msgType: type,
    length,
    messageSeq: seq,
    fragmentOffset: offset,
    fragment: hex(data),
  });

  it('reassembles overlapping fragments in any order (RFC 6347 §4.2.3)', () => {
    const r = new Reassembler();
    assert.equal(r.add(frag(0, 4, 'eeff'), 0), 'buffered');
    assert.equal(r.next(), undefined);
    assert.equal(r.add(frag(0, 0, 'aabbcc'), 0), 'buffered');
    assert.equal(r.add(frag(0, 2, 'ccdd'), 0), 'buffered');
    assert.deepEqual(r.next()?.body, hex('aabbccddeeff'));
    assert.equal(r.nextSeq, 1);
  });

  it('holds a later message until the earlier one is complete (RFC 6347 §4.2.2)', () => {
    const r = new Reassembler();
    r.add(frag(1, 0, 'bb', 1), 0);
    assert.equal(r.next(), undefined);
    r.add(frag(0, 0, 'aa', 1), 0);
    assert.deepEqual(r.next()?.body, hex('aa'));
    assert.deepEqual(r.next()?.body, hex('bb'));
  });

  it('reports retransmissions as old and refuses inconsistent fragments (RFC 6347 §4.2.2)', () => {
    const r = new Reassembler();
    r.add(frag(0, 0, 'aa', 1), 0);
    r.next();
    assert.equal(r.add(frag(0, 0, 'aa', 1), 0), 'old');
    r.add(frag(1, 0, 'aa', 4), 0);
    assert.equal(r.add(frag(1, 1, 'bb', 5), 0), 'rejected', 'another length');
    assert.equal(r.add(frag(1, 1, 'bb', 4, 12), 0), 'rejected', 'another type');
    assert.equal(r.add(frag(50, 0, 'aa', 1), 0), 'rejected', 'too far ahead');
  });

  it('drops a message cut in too many disjoint pieces (RFC 6347 §4.2.3)', () => {
    const r = new Reassembler();
    let result = '';
    for (let i = 0; i < 100; i++) result = r.add(frag(0, i * 2, 'aa', 400), 0);
    assert.equal(result, 'rejected');
  });

  it('refuses a message longer than the limit before allocating it (RFC 6347 §4.2.3)', () => {
    const r = new Reassembler(8, 1024);
    assert.equal(r.add(frag(0, 0, 'aa', 0xffffff), 0), 'rejected');
  });
});

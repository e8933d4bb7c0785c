import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AeadRecordCipher } from '../../src/dtls/crypto/record-cipher.js';
import { ByteReader } from '../../src/dtls/reader.js';
import { parseAlert, serializeAlert } from '../../src/dtls/record/alert.js';
import { additionalData, parseRecords, serializeRecord } from '../../src/dtls/record/record.js';
import { RecordLayer } from '../../src/dtls/record/record-layer.js';
import { ReplayWindow } from '../../src/dtls/record/replay-window.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('DTLS records', () => {
  it('parses and serializes a record header field by field (RFC 6347 §4.1)', () => {
    const bytes = hex(
      '16' + // type handshake
        'fefd' + // version DTLS 1.2
        '0001' + // epoch 1
        '000000000203' + // sequence number 0x203
        '0003' + // length
        'aabbcc',
    );
    const [rec] = parseRecords(bytes);
    assert.deepEqual(rec, {
      type: 22,
      version: 0xfefd,
      epoch: 1,
      seq: 0x203,
      fragment: hex('aabbcc'),
    });
    assert.deepEqual(serializeRecord(rec!), bytes);
  });

  it('keeps the records before a truncated one and drops the rest (RFC 6347 §4.1.2.7)', () => {
    const one = serializeRecord({
      type: 23,
      version: 0xfefd,
      epoch: 1,
      seq: 1,
      fragment: hex('01'),
    });
    const two = serializeRecord({
      type: 23,
      version: 0xfefd,
      epoch: 1,
      seq: 2,
      fragment: hex('0202'),
    });
    const recs = parseRecords(Buffer.concat([one, two.subarray(0, two.length - 1)]));
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.seq, 1);
    assert.deepEqual(parseRecords(hex('16fe')), []);
  });

  it('parses a tls12_cid record with the CID length the receiver issued (RFC 9146 §4)', () => {
    const rec = {
      type: 25,
      version: 0xfefd,
      epoch: 1,
      seq: 5,
      cid: hex('010203'),
      fragment: hex('ff'),
    };
    const bytes = serializeRecord(rec);
    assert.deepEqual(parseRecords(bytes, 3), [rec]);
    assert.deepEqual(parseRecords(bytes, 0), []);
  });

  it('builds the CID additional data with the placeholder (RFC 9146 §5)', () => {
    const aad = additionalData(25, 0xfefd, 1, 5, hex('0102'), 10);
    assert.equal(aad.toString('hex'), `${'ff'.repeat(8)}190219fefd0001000000000005${'0102'}000a`);
  });

  it('reads vectors without passing the end of the input (RFC 5246 §4.3)', () => {
    const r = new ByteReader(hex('05 0102'));
    assert.throws(() => r.vec8(), { code: 'DTLS_ERR_DECODE_ERROR' });
    assert.throws(() => new ByteReader(hex('')).u16(), { code: 'DTLS_ERR_DECODE_ERROR' });
  });

  it('parses and serializes alerts; refuses an alert of the wrong size (RFC 5246 §7.2)', () => {
    assert.deepEqual(parseAlert(hex('0214')), { level: 2, description: 20 });
    assert.deepEqual(serializeAlert({ level: 1, description: 0 }), hex('0100'));
    assert.equal(parseAlert(hex('02')), undefined);
    assert.equal(parseAlert(hex('0314')), undefined);
  });
});

describe('anti-replay window', () => {
  it('rejects a replayed record (RFC 6347 §4.1.2.6)', () => {
    const w = new ReplayWindow();
    assert.ok(w.check(5));
    w.accept(5);
    assert.equal(w.check(5), false);
  });

  it('accepts late records within the window and rejects older ones (RFC 6347 §4.1.2.6)', () => {
    const w = new ReplayWindow(64);
    w.accept(100);
    assert.ok(w.check(99));
    assert.ok(w.check(37));
    assert.equal(w.check(36), false);
    w.accept(99);
    assert.equal(w.check(99), false);
    w.accept(300);
    assert.equal(w.check(100), false);
    assert.ok(w.check(299));
    assert.equal(w.check(300), false);
  });

  it('updates the window only after the record authenticated (RFC 6347 §4.1.2.6)', () => {
    const layer = new RecordLayer();
    const cipher = new AeadRecordCipher('ccm8', Buffer.alloc(16, 1), Buffer.alloc(4, 2));
    layer.setReadCipher(1, cipher);
    layer.setWriteCipher(1, cipher);
    const good = parseRecords(layer.protect(23, Buffer.from('a'), 1))[0]!;
    const forged = { ...good, fragment: Buffer.from(good.fragment) };
    forged.fragment[forged.fragment.length - 1]! ^= 1;
    const failed = { mac: false };
    assert.equal(layer.unprotect(forged, failed), undefined);
    assert.ok(failed.mac);
    assert.equal(layer.unprotect(good)?.data.toString(), 'a');
    assert.equal(layer.unprotect(good), undefined, 'the replay is dropped');
  });

  it('drops records of an epoch it has no keys for (RFC 6347 §4.1)', () => {
    const layer = new RecordLayer();
    assert.equal(
      layer.unprotect({ type: 23, version: 0xfefd, epoch: 3, seq: 0, fragment: hex('00') }),
      undefined,
    );
  });
});

import { ContentType, HandshakeType, MAX_PLAINTEXT } from '../constants.js';
import type { RecordLayer } from '../record/record-layer.js';
import { HANDSHAKE_HEADER_LENGTH, serializeFragment } from './fragment.js';

/** One message of an outgoing flight (RFC 6347 §4.2.4), kept to be retransmitted as is. */
export type FlightEntry =
  | { kind: 'handshake'; epoch: number; msgType: number; messageSeq: number; body: Buffer }
  | { kind: 'ccs'; epoch: number };

/**
 * Turns a flight into datagrams of at most `mtu` bytes: records packed together (RFC 6347
 * §4.1.1: several records may share a datagram) and handshake messages fragmented when they do
 * not fit (RFC 6347 §4.2.3). Each call takes fresh record sequence numbers (RFC 6347 §4.2.4:
 * a retransmitted record is a new record).
 */
export function packFlight(
  flight: FlightEntry[],
  records: RecordLayer,
  mtu: number,
  maxFragment = MAX_PLAINTEXT,
): Buffer[] {
  // RFC 6066 §4: no record longer than the negotiated maximum fragment length.
  const cap = maxFragment - HANDSHAKE_HEADER_LENGTH;
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  const push = (record: Buffer) => {
    if (size + record.length > mtu && current.length > 0) {
      datagrams.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(record);
    size += record.length;
  };
  for (const e of flight) {
    if (e.kind === 'ccs') {
      // RFC 5246 §7.1: ChangeCipherSpec is one byte of value 1.
      push(records.protect(ContentType.change_cipher_spec, Buffer.from([1]), e.epoch));
      continue;
    }
    let offset = 0;
    do {
      const room = Math.min(
        cap,
        Math.max(64, mtu - size - records.overhead(0, e.epoch) - 64 - HANDSHAKE_HEADER_LENGTH),
      );
      const fullRoom = Math.min(
        cap,
        Math.max(64, mtu - records.overhead(0, e.epoch) - 64 - HANDSHAKE_HEADER_LENGTH),
      );
      const remaining = e.body.length - offset;
      // Start a new datagram rather than cut a message in small pieces.
      // RFC 6347 §4.2.1: a stateless server only reads a ClientHello in one piece.
      const take =
        e.msgType === HandshakeType.client_hello || remaining <= room
          ? remaining
          : room >= Math.min(256, cap)
            ? room
            : Math.min(remaining, fullRoom);
      const fragment = serializeFragment({
        msgType: e.msgType,
        length: e.body.length,
        messageSeq: e.messageSeq,
        fragmentOffset: offset,
        fragment: e.body.subarray(offset, offset + take),
      });
      push(records.protect(ContentType.handshake, fragment, e.epoch));
      offset += take;
    } while (offset < e.body.length);
  }
  if (current.length > 0) datagrams.push(Buffer.concat(current));
  return datagrams;
}

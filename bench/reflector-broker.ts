/**
 * The reflector: the least an MQTT server can do for the generator's clients, as a ceiling for
 * the harness (like a raw echo for datagrams). It accepts every CONNECT and SUBSCRIBE, copies
 * every PUBLISH byte for byte to every subscriber (no topic matching, no sessions, no queues) and
 * answers the QoS 1/2 flows on both sides. Whatever rate the generator reaches through it, it can
 * offer a real broker. Run by the harness: `node --import tsx bench/reflector-broker.ts <port>`.
 */
import { createServer, type Socket } from 'node:net';
import { AckBatch, AckHeader, PacketScanner, PacketType } from './mqtt-wire.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: reflector-broker.ts <port>');

const subscribers = new Set<Socket>();

function serve(socket: Socket): void {
  const acks = new AckBatch();
  const scanner = new PacketScanner((type, flags, buf, start, end, packetStart) => {
    switch (type) {
      case PacketType.Connect:
        // MQTT 3.1.1 §3.2: session present 0, return code 0.
        socket.write(Buffer.from([0x20, 2, 0, 0]));
        break;
      case PacketType.Subscribe: {
        // One topic filter per SUBSCRIBE from the generator: its requested QoS is the last byte.
        const id = buf.readUInt16BE(start);
        socket.write(Buffer.from([0x90, 3, id >> 8, id & 0xff, buf[end - 1]! & 3]));
        subscribers.add(socket);
        break;
      }
      case PacketType.Publish: {
        const packet = buf.subarray(packetStart, end);
        for (const subscriber of subscribers) subscriber.write(packet);
        const qos = (flags >> 1) & 3;
        if (qos > 0) {
          const id = buf.readUInt16BE(start + 2 + buf.readUInt16BE(start));
          acks.add(qos === 1 ? AckHeader.Puback : AckHeader.Pubrec, id);
        }
        break;
      }
      case PacketType.Pubrel:
        acks.add(AckHeader.Pubcomp, buf.readUInt16BE(start));
        break;
      case PacketType.Pubrec:
        acks.add(AckHeader.Pubrel, buf.readUInt16BE(start));
        break;
      case PacketType.Pingreq:
        socket.write(Buffer.from([0xd0, 0]));
        break;
      case PacketType.Disconnect:
        socket.end();
        break;
      // PUBACK and PUBCOMP from subscribers end their flows: nothing to answer.
    }
  });
  socket.on('data', (chunk: Buffer) => {
    for (const subscriber of subscribers) subscriber.cork();
    try {
      scanner.push(chunk);
    } catch {
      socket.destroy();
    }
    const out = acks.take();
    if (out) socket.write(out);
    for (const subscriber of subscribers) subscriber.uncork();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => subscribers.delete(socket));
}

const server = createServer({ noDelay: true }, serve);
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));

function shutdown(): void {
  server.close();
  for (const subscriber of subscribers) subscriber.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('disconnect', shutdown);

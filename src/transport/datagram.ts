/**
 * The port between datagram-based protocol engines (CoAP, and LwM2M above it) and the transports
 * that carry their datagrams: plain UDP, DTLS, SMS. An engine never touches a socket; it sends to
 * and receives from a `DatagramPeer`, whose `key` names the security association (for UDP the
 * address, for DTLS the session, which survives an address change with a Connection ID).
 */
export interface DatagramPeer {
  /** Stable key of the association with this peer, unique within one transport. */
  readonly key: string;
  /** Current network address of the peer (it may change under NAT, DTLS CID keeps the key). */
  readonly address: string;
  readonly port: number;
  /** The peer's authenticated identity on a secured transport; absent on plain UDP. */
  readonly identity?: PeerIdentity;
}

/** What a secured transport proved about its peer during the handshake. */
export type PeerIdentity =
  | { readonly kind: 'psk'; readonly identity: string }
  | { readonly kind: 'rpk'; readonly publicKey: Buffer /* SubjectPublicKeyInfo, DER */ }
  | { readonly kind: 'x509'; readonly subject: string; readonly certificate: Buffer /* DER */ };

export type DatagramReceiver = (data: Buffer, peer: DatagramPeer) => void;

export interface DatagramTransport {
  /** URI scheme that this transport serves: `coap`, `coaps` or `coap+sms`. */
  readonly scheme: string;
  /** Sends one datagram to the peer; errors are reported through the transport's own logging. */
  send(peer: DatagramPeer, data: Uint8Array): void;
  /** Sets the one receiver of every datagram that arrives (after decryption on secured transports). */
  onReceive(receiver: DatagramReceiver): void;
  /** The locally bound address, once bound. */
  address(): { address: string; port: number } | undefined;
  /** Stops receiving and releases the socket. */
  close(): Promise<void>;
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throw-away PKI made with the openssl CLI: a CA, a server and a client, all ECDSA P-256. */
export interface TestPki {
  dir: string;
  caPem: string;
  otherCaPem: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  /** A server certificate issued by an intermediate CA under the test CA. */
  chainedKey: string;
  chainedCert: string;
  intermediateCert: string;
  /** A client certificate from a CA the server does not trust. */
  strangerKey: string;
  strangerCert: string;
  path(name: string): string;
  remove(): void;
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-dtls-pki-'));
  const p = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string) =>
    ossl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-subj',
      `/CN=${cn}`,
      '-days',
      '2',
    );
  const leaf = (name: string, cn: string, caName: string, isCa = false) => {
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(
      p(`${name}.ext`),
      isCa
        ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n'
        : 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n',
    );
    ossl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.pem`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('ca', 'Tandem Test CA');
  ca('other', 'Other CA');
  leaf('server', 'server.test', 'ca');
  leaf('client', 'dev1', 'ca');
  leaf('stranger', 'stranger', 'other');
  leaf('inter', 'Tandem Intermediate CA', 'ca', true);
  leaf('chained', 'chained.test', 'inter');
  const read = (n: string) => readFileSync(p(n), 'utf8');
  return {
    dir,
    caPem: read('ca.pem'),
    otherCaPem: read('other.pem'),
    serverKey: read('server.key'),
    serverCert: read('server.pem'),
    clientKey: read('client.key'),
    clientCert: read('client.pem'),
    chainedKey: read('chained.key'),
    chainedCert: read('chained.pem'),
    intermediateCert: read('inter.pem'),
    strangerKey: read('stranger.key'),
    strangerCert: read('stranger.pem'),
    path: p,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// A throw-away PKI for the security tests, made with the openssl command line at test time (no
// private key is checked in): a CA, a server certificate for 127.0.0.1/localhost, a client
// certificate, and a second, unrelated CA with its own client certificate (the "wrong certificate").
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  dir: string;
  ca: Pem;
  server: Pem;
  client: Pem;
  /** A service's certificate in the cluster layout: one Secret, both usages (serves and calls). */
  peer: Pem;
  /** Another CA, trusted by nobody here, and a client certificate it signed. */
  rogueCa: Pem;
  rogueClient: Pem;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed (is the Debian package openssl installed?):\n${stderr}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function load(dir: string, name: string): Pem {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}

function makeCa(dir: string, name: string): Pem {
  openssl(
    ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return load(dir, name);
}

function makeLeaf(dir: string, name: string, ca: string, usage: 'serverAuth' | 'clientAuth' | 'serverAuth,clientAuth'): Pem {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${usage}`, 'subjectAltName=IP:127.0.0.1,DNS:localhost', ''].join('\n'),
  );
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', ext], dir);
  return load(dir, name);
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'sm-nas-pki-'));
  const ca = makeCa(dir, 'ca');
  const rogueCa = makeCa(dir, 'rogue-ca');
  return {
    dir,
    ca,
    server: makeLeaf(dir, 'server', 'ca', 'serverAuth'),
    client: makeLeaf(dir, 'client', 'ca', 'clientAuth'),
    peer: makeLeaf(dir, 'peer', 'ca', 'serverAuth,clientAuth'),
    rogueCa,
    rogueClient: makeLeaf(dir, 'rogue-client', 'rogue-ca', 'clientAuth'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

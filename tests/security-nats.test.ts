// NATS authentication and TLS against a real nats-server: with auth on, a client without
// credentials (or with wrong ones) is refused; user/password, token and nkey clients are served;
// with TLS and client verification on, a client without a certificate is refused. Credentials are
// made here; certificates by openssl at test time (security-pki.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectBus, natsConnectOptions, startNatsServer, type Bus, type BusSecurity, type NatsServer } from '@sm-nas/bus';
import { loadNatsSecurity } from '@sm-nas/service-kit';
import { createUser } from 'nkeys.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from './security-pki.js';

const quiet = { info: () => {}, error: () => {} };
const noRetry = { reconnect: false, maxReconnectAttempts: 0, timeout: 5000 };

let pki: TestPki;
const servers: NatsServer[] = [];
const buses: Bus[] = [];

beforeAll(() => {
  pki = createTestPki();
});

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await Promise.all(servers.map((s) => s.stop()));
  pki?.remove();
});

async function connect(server: NatsServer, security?: BusSecurity): Promise<Bus> {
  const bus = await connectBus({ servers: server.url, name: 'security-test', logger: quiet, security, connectOptions: noRetry });
  buses.push(bus);
  return bus;
}

/** A core-NATS round trip through the server: proves the connection is really usable. */
async function roundTrip(bus: Bus): Promise<string> {
  const sub = bus.nc.subscribe('security.echo', { max: 1 });
  const received = (async () => {
    for await (const msg of sub) return new TextDecoder().decode(msg.data);
    return '';
  })();
  bus.nc.publish('security.echo', new TextEncoder().encode('hello'));
  await bus.flush();
  return received;
}

async function refusal(server: NatsServer, security?: BusSecurity): Promise<string> {
  try {
    await connect(server, security);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected the connection to be refused');
}

describe('user and password', () => {
  let server: NatsServer;
  const password = 'test-only-password-1b9e4c';

  beforeAll(async () => {
    server = await startNatsServer({ extraArgs: ['--user', 'sm-nas', '--pass', password] });
    servers.push(server);
  });

  it('refuses a client without credentials', async () => {
    expect(await refusal(server)).toMatch(/authorization violation/i);
  });

  it('refuses a wrong password', async () => {
    expect(await refusal(server, { user: 'sm-nas', password: 'not-the-password' })).toMatch(/authorization violation/i);
  });

  it('serves the right credentials, read from the environment as a service does', async () => {
    const security = loadNatsSecurity({ NATS_USER: 'sm-nas', NATS_PASSWORD: password });
    expect(await roundTrip(await connect(server, security))).toBe('hello');
  });
});

describe('token', () => {
  let server: NatsServer;
  const token = 'test-only-token-5d0c7a3f';

  beforeAll(async () => {
    server = await startNatsServer({ extraArgs: ['--auth', token] });
    servers.push(server);
  });

  it('refuses a client without the token, serves one with it', async () => {
    expect(await refusal(server)).toMatch(/authorization violation/i);
    expect(await refusal(server, { token: 'wrong-token' })).toMatch(/authorization violation/i);
    expect(await roundTrip(await connect(server, { token }))).toBe('hello');
  });
});

describe('nkey', () => {
  let server: NatsServer;
  let seedFile: string;

  beforeAll(async () => {
    const user = createUser();
    seedFile = join(pki.dir, 'user.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    const config = join(pki.dir, 'nkey.conf');
    writeFileSync(config, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    server = await startNatsServer({ extraArgs: ['-c', config] });
    servers.push(server);
  });

  it('refuses a client without the key and one signing with another key', async () => {
    expect(await refusal(server)).toMatch(/authorization violation/i);
    const other = join(pki.dir, 'other.nk');
    writeFileSync(other, new TextDecoder().decode(createUser().getSeed()), { mode: 0o600 });
    expect(await refusal(server, { nkeySeedFile: other })).toMatch(/authorization violation/i);
  });

  it('serves a client signing the server nonce with the registered key', async () => {
    const security = loadNatsSecurity({ NATS_NKEY_SEED_FILE: seedFile });
    expect(await roundTrip(await connect(server, security))).toBe('hello');
  });
});

describe('TLS with client verification', () => {
  let server: NatsServer;

  beforeAll(async () => {
    server = await startNatsServer({
      extraArgs: ['--tls', '--tlscert', pki.server.certFile, '--tlskey', pki.server.keyFile, '--tlscacert', pki.ca.certFile, '--tlsverify'],
    });
    servers.push(server);
  });

  it('serves a client with a certificate from the trusted CA', async () => {
    const security = loadNatsSecurity({
      NATS_TLS_CA_FILE: pki.ca.certFile,
      NATS_TLS_CERT_FILE: pki.client.certFile,
      NATS_TLS_KEY_FILE: pki.client.keyFile,
    });
    expect(await roundTrip(await connect(server, security))).toBe('hello');
  });

  it('refuses a client without a certificate, or with one from another CA', async () => {
    // The server ends the handshake: a TLS alert (bad certificate, certificate required, unknown ca,
    // by TLS version) or, when it closes first, a reset; never a served connection.
    expect(await refusal(server, { tls: { caFile: pki.ca.certFile } })).toMatch(/certificate|unknown ca|ECONNRESET/i);
    expect(await refusal(server, { tls: { caFile: pki.ca.certFile, certFile: pki.rogueClient.certFile, keyFile: pki.rogueClient.keyFile } })).toMatch(
      /certificate|unknown ca|ECONNRESET/i,
    );
  });

  it('refuses a client that does not trust the server certificate', async () => {
    expect(await refusal(server, { tls: { caFile: pki.rogueCa.certFile, certFile: pki.client.certFile, keyFile: pki.client.keyFile } })).toMatch(
      /unable to verify/i,
    );
  });
});

describe('configuration', () => {
  it('is off when no variable is set, and refuses two methods at once or half a pair', () => {
    expect(loadNatsSecurity({})).toBeUndefined();
    expect(() => loadNatsSecurity({ NATS_USER: 'a', NATS_PASSWORD: 'b', NATS_TOKEN: 'c' })).toThrow(/one NATS authentication method/);
    expect(() => loadNatsSecurity({ NATS_USER: 'a' })).toThrow(/NATS_PASSWORD: expected set together with NATS_USER/);
    expect(() => loadNatsSecurity({ NATS_CREDS_FILE: '/nonexistent/x.creds' })).toThrow(/NATS_CREDS_FILE: expected a readable file/);
    expect(() => natsConnectOptions({ token: 'a', user: 'b', password: 'c' })).toThrow(/one method/);
  });
});

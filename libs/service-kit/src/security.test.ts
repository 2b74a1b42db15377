import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { isLoopbackHost, loadSecurityConfig } from './security.js';

// Not real keys: loadSecurityConfig only reads and checks the PEM framing; the TLS handshakes are
// tested with openssl-made certificates in tests/security-grpc.test.ts.
const CERT = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
const dir = mkdtempSync(join(tmpdir(), 'sm-nas-security-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadSecurityConfig('controller', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.variable}: expected ${i.expected}`);
    throw err;
  }
  return [];
}

describe('loadSecurityConfig', () => {
  it('is all off without variables', () => {
    expect(loadSecurityConfig('controller', {})).toEqual({ tls: undefined, clientTls: undefined, bearerToken: undefined, healthPort: undefined });
  });

  it('reads mounted files; a CA makes the server require client certificates', () => {
    const config = loadSecurityConfig('controller', {
      GRPC_TLS_CERT_FILE: file('tls.crt', CERT),
      GRPC_TLS_KEY_FILE: file('tls.key', KEY),
      GRPC_TLS_CA_FILE: file('ca.crt', CERT),
      CONTROLLER_AUTH_TOKEN_FILE: file('token', 'a-token-of-enough-length\n'),
      GRPC_HEALTH_PORT: '8081',
    });
    expect(config.tls?.requireClientCert).toBe(true);
    expect(config.tls?.certChain.toString()).toBe(CERT);
    expect(config.clientTls?.ca?.toString()).toBe(CERT);
    expect(config.bearerToken).toBe('a-token-of-enough-length');
    expect(config.healthPort).toBe(8081);
  });

  it('takes PEM text from the environment, and TLS without client certificates on request', () => {
    const config = loadSecurityConfig('flops', { GRPC_TLS_CERT: CERT, GRPC_TLS_KEY: KEY, GRPC_TLS_CA: CERT, GRPC_TLS_CLIENT_AUTH: 'none' });
    expect(config.tls?.requireClientCert).toBe(false);
  });

  it('names every bad variable at once, without echoing a secret', () => {
    const issues = issuesOf({
      GRPC_TLS_CERT_FILE: join(dir, 'missing.crt'),
      GRPC_TLS_KEY: 'not pem',
      CONTROLLER_AUTH_TOKEN: 'short',
      GRPC_HEALTH_PORT: '99999',
      GRPC_TLS_CLIENT_AUTH: 'maybe',
    });
    expect(issues).toEqual([
      expect.stringMatching(/^GRPC_TLS_CERT_FILE: expected a readable file holding a certificate chain \(ENOENT\)/),
      expect.stringMatching(/^GRPC_TLS_KEY: expected a private key in PEM form/),
      expect.stringMatching(/^GRPC_TLS_CERT_FILE: expected a certificate and its key together/),
      'GRPC_TLS_CLIENT_AUTH: expected one of require|none',
      'CONTROLLER_AUTH_TOKEN: expected a token of at least 16 characters without whitespace',
      'GRPC_HEALTH_PORT: expected an integer port 0..65535',
    ]);
    try {
      loadSecurityConfig('controller', { CONTROLLER_AUTH_TOKEN: 'short' });
    } catch (err) {
      expect((err as Error).message).not.toContain('short');
    }
  });

  it('refuses a certificate without its key, both forms of one value, and required client auth without a CA', () => {
    expect(issuesOf({ GRPC_TLS_CERT: CERT })).toEqual([expect.stringMatching(/^GRPC_TLS_KEY_FILE: expected a certificate and its key together/)]);
    expect(issuesOf({ GRPC_TLS_CA: CERT, GRPC_TLS_CA_FILE: '/x' })).toEqual(['GRPC_TLS_CA: expected either GRPC_TLS_CA or GRPC_TLS_CA_FILE, not both']);
    expect(issuesOf({ GRPC_TLS_CERT: CERT, GRPC_TLS_KEY: KEY, GRPC_TLS_CLIENT_AUTH: 'require' })).toEqual([
      'GRPC_TLS_CA_FILE: expected a CA to verify client certificates (GRPC_TLS_CLIENT_AUTH=require)',
    ]);
  });
});

describe('isLoopbackHost', () => {
  it('tells loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'flops', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

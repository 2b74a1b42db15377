// Transport security and authentication for the gRPC servers and clients, all opt-in and read
// from the environment once at start (loadSecurityConfig):
//
//   GRPC_TLS_CERT_FILE / GRPC_TLS_CERT    this process's certificate chain (PEM), as server and as client
//   GRPC_TLS_KEY_FILE  / GRPC_TLS_KEY     its private key (PEM)
//   GRPC_TLS_CA_FILE   / GRPC_TLS_CA      the CA that signs the peers: a server given one requires
//                                         client certificates signed by it (mutual TLS); a client
//                                         verifies servers with it (else the system roots)
//   GRPC_TLS_CLIENT_AUTH                  require (default with a CA) | none: a TLS server that does
//                                         not ask for client certificates
//   <SERVICE>_AUTH_TOKEN(_FILE)           a bearer token this server demands on every call except
//                                         grpc.health.v1 (the controller API sets it; any server may)
//   GRPC_HEALTH_PORT                      a plaintext listener with grpc.health.v1 only, for kubelet's
//                                         gRPC probes, which cannot speak TLS
//
// `_FILE` variables point at mounted secrets (Kubernetes Secret volumes, cert-manager's tls.crt /
// tls.key / ca.crt); the bare ones hold the PEM text itself. Files are read at start: rotate by
// restarting the pod.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { Metadata, ServerError, Status, type ClientMiddleware, type ServerMiddleware } from 'nice-grpc-common';
import { ConfigError, envPrefix, type ConfigIssue, type Env } from './config.js';

export interface TlsConfig {
  /** PEM certificate chain of this process. */
  certChain: Buffer;
  /** PEM private key of this process. */
  privateKey: Buffer;
  /** PEM CA bundle for the peers; a server requires client certificates signed by it when `requireClientCert`. */
  ca: Buffer | undefined;
  requireClientCert: boolean;
}

export interface ClientTlsConfig {
  /** PEM CA bundle to verify the server; the system roots when undefined. */
  ca: Buffer | undefined;
  /** Client certificate and key for mutual TLS. */
  certChain: Buffer | undefined;
  privateKey: Buffer | undefined;
}

export interface SecurityConfig {
  /** Server side TLS; undefined: plaintext. */
  tls: TlsConfig | undefined;
  /** Client side TLS for calls to other services; undefined: plaintext. */
  clientTls: ClientTlsConfig | undefined;
  /** The bearer token this service's server demands; undefined: none. */
  bearerToken: string | undefined;
  /** The plaintext health-only port; undefined: health is on the main port only. */
  healthPort: number | undefined;
}

export const NO_SECURITY: SecurityConfig = Object.freeze({
  tls: undefined,
  clientTls: undefined,
  bearerToken: undefined,
  healthPort: undefined,
});

/** Environment variable names, for docs and manifests. */
export const SECURITY_ENV = {
  certFile: 'GRPC_TLS_CERT_FILE',
  cert: 'GRPC_TLS_CERT',
  keyFile: 'GRPC_TLS_KEY_FILE',
  key: 'GRPC_TLS_KEY',
  caFile: 'GRPC_TLS_CA_FILE',
  ca: 'GRPC_TLS_CA',
  clientAuth: 'GRPC_TLS_CLIENT_AUTH',
  authToken: (service: string) => `${envPrefix(service)}_AUTH_TOKEN`,
  authTokenFile: (service: string) => `${envPrefix(service)}_AUTH_TOKEN_FILE`,
  healthPort: 'GRPC_HEALTH_PORT',
} as const;

const MIN_TOKEN_LENGTH = 16;

/**
 * Reads the security variables above for `service`; throws a ConfigError naming every bad one
 * (an unreadable file, a certificate without its key, a short token, ...).
 */
export function loadSecurityConfig(service: string, env: Env = process.env): SecurityConfig {
  const issues: ConfigIssue[] = [];
  const value = (name: string) => (env[name] === '' ? undefined : env[name]);

  // A PEM from `<NAME>` (inline) or `<NAME>_FILE` (a path); both set is ambiguous.
  function pem(inline: string, file: string, what: string): Buffer | undefined {
    const text = value(inline);
    const path = value(file);
    if (text !== undefined && path !== undefined) {
      issues.push({ variable: inline, expected: `either ${inline} or ${file}, not both`, received: text.slice(0, 20) });
      return undefined;
    }
    if (text !== undefined) {
      if (!text.includes('-----BEGIN ')) issues.push({ variable: inline, expected: `${what} in PEM form`, received: text.slice(0, 20) });
      return Buffer.from(text);
    }
    if (path === undefined) return undefined;
    try {
      const data = readFileSync(path);
      if (!data.includes('-----BEGIN ')) issues.push({ variable: file, expected: `a file holding ${what} in PEM form`, received: path });
      return data;
    } catch (err) {
      issues.push({ variable: file, expected: `a readable file holding ${what} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, received: path });
      return undefined;
    }
  }

  const certChain = pem(SECURITY_ENV.cert, SECURITY_ENV.certFile, 'a certificate chain');
  const privateKey = pem(SECURITY_ENV.key, SECURITY_ENV.keyFile, 'a private key');
  const ca = pem(SECURITY_ENV.ca, SECURITY_ENV.caFile, 'a CA certificate bundle');
  if ((certChain === undefined) !== (privateKey === undefined)) {
    const missing = certChain === undefined ? SECURITY_ENV.certFile : SECURITY_ENV.keyFile;
    issues.push({ variable: missing, expected: 'a certificate and its key together (both or neither)', received: undefined });
  }
  const clientAuthRaw = value(SECURITY_ENV.clientAuth);
  if (clientAuthRaw !== undefined && clientAuthRaw !== 'require' && clientAuthRaw !== 'none') {
    issues.push({ variable: SECURITY_ENV.clientAuth, expected: 'one of require|none', received: clientAuthRaw });
  }
  if (clientAuthRaw === 'require' && ca === undefined) {
    issues.push({ variable: SECURITY_ENV.caFile, expected: `a CA to verify client certificates (${SECURITY_ENV.clientAuth}=require)`, received: undefined });
  }

  const tokenVar = SECURITY_ENV.authToken(service);
  const tokenFileVar = SECURITY_ENV.authTokenFile(service);
  let bearerToken = value(tokenVar);
  const tokenFile = value(tokenFileVar);
  if (bearerToken !== undefined && tokenFile !== undefined) {
    issues.push({ variable: tokenVar, expected: `either ${tokenVar} or ${tokenFileVar}, not both`, received: '(set)' });
  } else if (tokenFile !== undefined) {
    try {
      bearerToken = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      issues.push({ variable: tokenFileVar, expected: `a readable file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, received: tokenFile });
    }
  }
  if (bearerToken !== undefined && (bearerToken.length < MIN_TOKEN_LENGTH || /\s/.test(bearerToken))) {
    // Never echo a secret: say what is wrong with it, not what it is.
    issues.push({
      variable: tokenFile !== undefined ? tokenFileVar : tokenVar,
      expected: `a token of at least ${MIN_TOKEN_LENGTH} characters without whitespace`,
      received: `(${bearerToken.length} characters)`,
    });
  }

  const healthVar = SECURITY_ENV.healthPort;
  const healthRaw = value(healthVar);
  let healthPort: number | undefined;
  if (healthRaw !== undefined) {
    healthPort = /^\d+$/.test(healthRaw) ? Number(healthRaw) : NaN;
    if (!(healthPort >= 0 && healthPort <= 65535)) issues.push({ variable: healthVar, expected: 'an integer port 0..65535', received: healthRaw });
  }

  if (issues.length > 0) throw new ConfigError(issues);
  const tls =
    certChain && privateKey
      ? { certChain, privateKey, ca, requireClientCert: ca !== undefined && clientAuthRaw !== 'none' }
      : undefined;
  const clientTls = ca !== undefined || certChain !== undefined ? { ca, certChain, privateKey } : undefined;
  return { tls, clientTls, bearerToken, healthPort };
}

/** grpc-js server credentials: TLS (mutual when the config asks for client certificates) or insecure. */
export function serverCredentials(tls: TlsConfig | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.certChain, private_key: tls.privateKey }], tls.requireClientCert);
}

/** grpc-js channel credentials for `createChannel(address, channelCredentials(config.clientTls))`. */
export function channelCredentials(tls: ClientTlsConfig | undefined): ChannelCredentials {
  if (!tls) return ChannelCredentials.createInsecure();
  return ChannelCredentials.createSsl(tls.ca ?? null, tls.privateKey ?? null, tls.certChain ?? null);
}

const HEALTH_PREFIX = '/grpc.health.v1.Health/';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // timingSafeEqual needs equal lengths; compare against itself to spend the same time anyway.
  return x.length === y.length ? timingSafeEqual(x, y) : (timingSafeEqual(x, x), false);
}

/**
 * Demands `authorization: Bearer <token>` on every call but grpc.health.v1's (probes carry no
 * token); a missing or wrong token ends the call with UNAUTHENTICATED before the handler runs.
 */
export function bearerTokenMiddleware(token: string): ServerMiddleware {
  return async function* bearerToken(call, context) {
    if (!call.method.path.startsWith(HEALTH_PREFIX)) {
      const header = context.metadata.get('authorization');
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match?.[1]) throw new ServerError(Status.UNAUTHENTICATED, 'missing bearer token (metadata "authorization: Bearer <token>")');
      if (!sameSecret(match[1], token)) throw new ServerError(Status.UNAUTHENTICATED, 'invalid bearer token');
    }
    return yield* call.next(call.request, context);
  };
}

/** Adds `authorization: Bearer <token>` to every call of a client. */
export function bearerTokenClientMiddleware(token: string): ClientMiddleware {
  return async function* bearerToken(call, options) {
    const metadata = Metadata(options.metadata).set('authorization', `Bearer ${token}`);
    return yield* call.next(call.request, { ...options, metadata });
  };
}

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses nothing off this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** NATS credentials and TLS: the shape of @sm-nas/bus's BusSecurity (pass it as `security`). */
export interface NatsSecurityConfig {
  user?: string;
  password?: string;
  token?: string;
  nkeySeedFile?: string;
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export const NATS_SECURITY_ENV = {
  user: 'NATS_USER',
  password: 'NATS_PASSWORD',
  token: 'NATS_TOKEN',
  nkeySeedFile: 'NATS_NKEY_SEED_FILE',
  credsFile: 'NATS_CREDS_FILE',
  tlsCaFile: 'NATS_TLS_CA_FILE',
  tlsCertFile: 'NATS_TLS_CERT_FILE',
  tlsKeyFile: 'NATS_TLS_KEY_FILE',
} as const;

/**
 * Reads NATS_USER + NATS_PASSWORD | NATS_TOKEN | NATS_NKEY_SEED_FILE | NATS_CREDS_FILE and
 * NATS_TLS_{CA,CERT,KEY}_FILE; undefined when none is set (an unauthenticated bus, the local mesh's
 * default). Throws a ConfigError for two methods at once, half a pair, or an unreadable file.
 */
export function loadNatsSecurity(env: Env = process.env): NatsSecurityConfig | undefined {
  const E = NATS_SECURITY_ENV;
  const value = (name: string) => (env[name] === '' ? undefined : env[name]);
  const issues: ConfigIssue[] = [];
  const file = (name: string) => {
    const path = value(name);
    if (path === undefined) return undefined;
    try {
      readFileSync(path);
    } catch (err) {
      issues.push({ variable: name, expected: `a readable file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, received: path });
    }
    return path;
  };
  const user = value(E.user);
  const password = value(E.password);
  const token = value(E.token);
  const nkeySeedFile = file(E.nkeySeedFile);
  const credsFile = file(E.credsFile);
  const caFile = file(E.tlsCaFile);
  const certFile = file(E.tlsCertFile);
  const keyFile = file(E.tlsKeyFile);
  if ((user === undefined) !== (password === undefined)) {
    issues.push({ variable: user === undefined ? E.user : E.password, expected: `set together with ${user === undefined ? E.password : E.user}`, received: undefined });
  }
  const methods = [user !== undefined || password !== undefined ? `${E.user}/${E.password}` : undefined, token !== undefined ? E.token : undefined, nkeySeedFile !== undefined ? E.nkeySeedFile : undefined, credsFile !== undefined ? E.credsFile : undefined].filter(
    (m): m is string => typeof m === 'string',
  );
  if (methods.length > 1) issues.push({ variable: methods[1] ?? '', expected: `one NATS authentication method, not ${methods.join(' and ')}`, received: '(set)' });
  if ((certFile === undefined) !== (keyFile === undefined)) {
    issues.push({ variable: certFile === undefined ? E.tlsCertFile : E.tlsKeyFile, expected: 'a client certificate and its key together', received: undefined });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const tls = caFile !== undefined || certFile !== undefined ? { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) } : undefined;
  const config: NatsSecurityConfig = {
    ...(user !== undefined ? { user, password } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(nkeySeedFile !== undefined ? { nkeySeedFile } : {}),
    ...(credsFile !== undefined ? { credsFile } : {}),
    ...(tls ? { tls } : {}),
  };
  return Object.keys(config).length > 0 ? config : undefined;
}

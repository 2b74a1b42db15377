// NATS authentication and TLS for connectBus. The server decides what it demands (deploy/k8s's
// nats-auth component; a test's nats-server config); a client gives exactly one of: user and
// password, a token, an nkey seed file, or a credentials (JWT + nkey) file, and optionally TLS.
// Values come from the environment through @sm-nas/service-kit's loadNatsSecurity:
//   NATS_USER + NATS_PASSWORD | NATS_TOKEN | NATS_NKEY_SEED_FILE | NATS_CREDS_FILE,
//   NATS_TLS_CA_FILE (verify the server), NATS_TLS_CERT_FILE + NATS_TLS_KEY_FILE (client certificate).
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from 'nats';

export interface BusSecurity {
  user?: string;
  password?: string;
  token?: string;
  /** An nkey seed file (`SU...`), for servers configured with nkeys. */
  nkeySeedFile?: string;
  /** A `.creds` file (user JWT + nkey seed), for servers in operator/JWT mode. */
  credsFile?: string;
  /** TLS to the server; `{}` asks for TLS with the system roots. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** The nats.js connect options for `security`; throws naming the bad combination. */
export function natsConnectOptions(security: BusSecurity | undefined): Partial<ConnectionOptions> {
  if (!security) return {};
  const methods = [
    security.user !== undefined || security.password !== undefined ? 'user/password' : undefined,
    security.token !== undefined ? 'token' : undefined,
    security.nkeySeedFile !== undefined ? 'nkey seed file' : undefined,
    security.credsFile !== undefined ? 'credentials file' : undefined,
  ].filter((m): m is string => m !== undefined);
  if (methods.length > 1) throw new Error(`NATS authentication: give one method, not ${methods.join(' and ')}`);
  if ((security.user === undefined) !== (security.password === undefined)) {
    throw new Error('NATS authentication: a user needs a password and a password a user');
  }
  const options: Partial<ConnectionOptions> = {};
  if (security.user !== undefined) Object.assign(options, { user: security.user, pass: security.password });
  if (security.token !== undefined) options.token = security.token;
  if (security.nkeySeedFile !== undefined) {
    const seed = new TextEncoder().encode(readFileSync(security.nkeySeedFile, 'utf8').trim());
    options.authenticator = nkeyAuthenticator(seed);
  }
  if (security.credsFile !== undefined) options.authenticator = credsAuthenticator(readFileSync(security.credsFile));
  if (security.tls) {
    if ((security.tls.certFile === undefined) !== (security.tls.keyFile === undefined)) {
      throw new Error('NATS TLS: a client certificate needs its key (both or neither)');
    }
    options.tls = { ...security.tls };
  }
  return options;
}

// A real nats-server as a child process: the local mesh's embedded default (`sm-nas search`
// starts one with JetStream in its data directory) and every test's broker. Spawned on 127.0.0.1
// on a free port (with JetStream in a store directory when asked), ready once it logs "Server is
// ready" and accepts connections, restartable on the same port and store so tests can kill it and
// check what survives. A child left running is killed when this process exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** Enable JetStream (`-js`) with a store directory; default false. */
  jetstream?: boolean;
  /** The JetStream store; a temporary directory (removed by stop()) when not given. */
  storeDir?: string;
  /** Default: a free port picked at start. */
  port?: number;
  /** How long to wait for the server to accept connections; default 10 s. */
  startTimeoutMs?: number;
  /** More nats-server arguments, e.g. `['-c', 'auth.conf']` or `['--user', 'u', '--pass', 'p']`. */
  extraArgs?: string[];
}

export interface NatsServer {
  url: string;
  port: number;
  /** The JetStream store directory, or undefined without JetStream. */
  storeDir: string | undefined;
  /** Stops the server (SIGTERM) and removes the store directory if it was created here. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the process to exit; keeps the store. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server if it runs (keeping the store) and starts it again on the same port and store. */
  restart(): Promise<void>;
}

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary: $NATS_SERVER_BIN, a Debian path, or `nats-server` on PATH. */
export function natsServerBinary(): string {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`NATS_SERVER_BIN=${fromEnv}: no such file`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  if (spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0) return 'nats-server';
  throw new Error(
    'nats-server is not installed: install the Debian package nats-server (apt-get install nats-server), ' +
      'put nats-server on PATH, or set NATS_SERVER_BIN',
  );
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  const port = options.port ?? (await freePort());
  const ownsStore = options.jetstream === true && options.storeDir === undefined;
  const storeDir = options.jetstream ? (options.storeDir ?? mkdtempSync(join(tmpdir(), 'sm-nas-nats-'))) : undefined;
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(storeDir ? ['-js', '-sd', storeDir] : []), ...(options.extraArgs ?? [])];
  const timeoutMs = options.startTimeoutMs ?? 10_000;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killOnExit = () => child?.kill('SIGKILL');

  async function launch(): Promise<void> {
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let output = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString();
    });
    let exitCode: number | null | undefined;
    exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        exitCode = code ?? (signal ? -1 : null);
        if (child === proc) child = undefined;
        resolve();
      }),
    );
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`nats-server: cannot start ${binary}: ${spawnError.message}`);
      if (exitCode !== undefined) throw new Error(`nats-server ${args.join(' ')} exited (${exitCode}):\n${output}`);
      // The log line tells this server apart from another process that may hold the port.
      if (output.includes('Server is ready') && (await canConnect(port))) return;
      await sleep(25);
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server ${args.join(' ')} did not accept connections within ${timeoutMs} ms:\n${output}`);
  }

  async function signalAndWait(signal: NodeJS.Signals): Promise<void> {
    if (!child) return;
    child.kill(signal);
    await exited;
  }

  process.once('exit', killOnExit);
  await launch();

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    kill: (signal = 'SIGKILL') => signalAndWait(signal),
    async restart() {
      await signalAndWait('SIGTERM');
      await launch();
    },
    async stop() {
      await signalAndWait('SIGTERM');
      process.removeListener('exit', killOnExit);
      if (ownsStore && storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

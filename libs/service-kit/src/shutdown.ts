// Graceful shutdown: on SIGTERM/SIGINT, health goes NOT_SERVING, the servers stop accepting and
// finish in-flight calls (cancelling them after a grace period), the registered closers run (drain
// NATS, ...), spans are flushed, and the process exits 0. The sequence is `Lifecycle.shutdown()`,
// which the signal handler calls, so tests run it without signals or exits.
import type { RunningServer, ServerLogger } from './server.js';
import { DEFAULT_SHUTDOWN_GRACE_MS } from './server.js';

export type Closer = () => unknown;

export interface LifecycleOptions {
  servers?: RunningServer[];
  /** Flushed last, after every closer, so their spans are exported too. */
  telemetry?: { shutdown(): Promise<void> };
  /** Grace period for in-flight calls; default 10 s. */
  graceMs?: number;
  logger?: ServerLogger;
}

export interface Lifecycle {
  addServer(server: RunningServer): void;
  /** Registers a closer; closers run in registration order, after the servers have stopped. */
  onShutdown(name: string, close: Closer): void;
  /** Runs the shutdown sequence once; later calls return the same promise. Never rejects. */
  shutdown(reason?: string): Promise<void>;
  readonly stopping: boolean;
}

export function createLifecycle(options: LifecycleOptions = {}): Lifecycle {
  const logger = options.logger ?? console;
  const servers = [...(options.servers ?? [])];
  const closers: { name: string; close: Closer }[] = [];
  let done: Promise<void> | undefined;

  async function attempt(name: string, step: () => unknown): Promise<void> {
    try {
      await step();
    } catch (err) {
      logger.error(`shutdown: ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }

  return {
    addServer: (server) => void servers.push(server),
    onShutdown: (name, close) => void closers.push({ name, close }),
    get stopping() {
      return done !== undefined;
    },
    shutdown(reason = 'shutdown requested') {
      done ??= (async () => {
        logger.info(`shutting down: ${reason}`);
        const graceMs = options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
        await Promise.all(servers.map((s) => attempt(`server ${s.address}`, () => s.shutdown({ graceMs }))));
        for (const { name, close } of closers) await attempt(name, close);
        if (options.telemetry) await attempt('telemetry', () => options.telemetry?.shutdown());
        logger.info('shutdown complete');
      })();
      return done;
    },
  };
}

export interface RunUntilSignalOptions extends LifecycleOptions {
  signals?: NodeJS.Signals[];
  /** Replaces process.exit (tests). */
  exit?: (code: number) => void;
  /** Replaces `process` as the signal source (tests). */
  signalSource?: Pick<NodeJS.Process, 'on' | 'removeListener'>;
}

/**
 * Returns a Lifecycle whose shutdown runs on the first SIGTERM or SIGINT and then exits 0; a
 * second signal while shutting down cancels in-flight calls and exits 1 at once.
 */
export function runUntilSignal(options: RunUntilSignalOptions = {}): Lifecycle {
  const lifecycle = createLifecycle(options);
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const source = options.signalSource ?? process;
  const logger = options.logger ?? console;
  const servers = [...(options.servers ?? [])];

  const onSignal = (signal: NodeJS.Signals) => {
    if (lifecycle.stopping) {
      logger.info(`${signal} again: forcing shutdown`);
      for (const server of servers) server.forceShutdown();
      exit(1);
      return;
    }
    void lifecycle.shutdown(`received ${signal}`).then(() => {
      for (const s of signals) source.removeListener(s, onSignal);
      exit(0);
    });
  };
  for (const s of signals) source.on(s, onSignal);
  return {
    ...lifecycle,
    addServer(server) {
      servers.push(server);
      lifecycle.addServer(server);
    },
    get stopping() {
      return lifecycle.stopping;
    },
  };
}

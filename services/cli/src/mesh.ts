// The local mesh of the embedded default: a nats-server child with JetStream in a data directory,
// and each implemented service as its own child process on loopback, exactly as they run in a
// cluster (same main.ts, configured by environment variables).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServer } from '@sm-nas/bus';
import { freePort } from '@sm-nas/bus';
import { DEVICE_LOCK_ENV } from '@sm-nas/service-kit';
import { HealthDefinition } from 'nice-grpc-server-health';
import { createChannel, createClient } from 'nice-grpc';

/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING (the package does not export the enum). */
const SERVING = 1;

const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/**
 * In start order: the controller last, as it calls the others. Services whose folder does not exist
 * in this checkout are skipped (see `meshServices`).
 */
export const MESH_SERVICES = ['searchspace', 'flops', 'trainer', 'profiler', 'suggestion', 'controller'] as const;
export type MeshService = (typeof MESH_SERVICES)[number];

const mainOf = (service: string) => resolve(repoRoot, `services/${service}/src/main.ts`);

/** The mesh services this checkout has. */
export function meshServices(): MeshService[] {
  return MESH_SERVICES.filter((s) => existsSync(mainOf(s)));
}

export interface LocalMesh {
  natsUrl: string;
  dataDir: string;
  addresses: Partial<Record<MeshService, string>>;
  /** The service children by name, e.g. to kill one in a test. */
  children: Partial<Record<MeshService, ChildProcess>>;
  /** Sends `signal` (default SIGKILL) to a service and waits for it to exit. */
  kill(service: MeshService, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a service again, same port and environment (stopping it first if it runs). */
  restart(service: MeshService): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalMeshOptions {
  dataDir: string;
  services?: readonly MeshService[];
  /** Where service logs go; default: inherit (the terminal). */
  log?: 'inherit' | 'ignore';
  /** Use this nats-server instead of starting one (an existing mesh's). */
  natsUrl?: string;
  /** Extra environment for every service. */
  env?: Record<string, string>;
}

async function waitServing(address: string, service: string, child: ChildProcess, timeoutMs = 180_000): Promise<void> {
  const channel = createChannel(address);
  const client = createClient(HealthDefinition, channel);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${service} exited with code ${child.exitCode} while starting`);
      try {
        const { status } = await client.check({ service: '' }, { signal: AbortSignal.timeout(1000) });
        if (status === SERVING) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${service} did not become healthy at ${address} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    channel.close();
  }
}

/** SIGTERM, then SIGKILL if the child has not exited after `timeoutMs`. */
export function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

export async function startLocalMesh(options: LocalMeshOptions): Promise<LocalMesh> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const nats: NatsServer | undefined = options.natsUrl
    ? undefined
    : await startNatsServer({ jetstream: true, storeDir: resolve(dataDir, 'jetstream') });
  const natsUrl = options.natsUrl ?? nats!.url;
  const children: Partial<Record<MeshService, ChildProcess>> = {};
  const addresses: Partial<Record<MeshService, string>> = {};
  const envs: Partial<Record<MeshService, NodeJS.ProcessEnv>> = {};
  const all = () => Object.values(children) as ChildProcess[];
  // The CLI runs under tsx and its loader flags (execArgv) let the children run TypeScript too;
  // elsewhere (a test runner) the children load tsx themselves.
  // (A real tsx loader flag is `tsx` or a path into tsx/dist; a vitest worker's flags also mention
  // "tsx" inside pnpm's folder names, e.g. vitest@4.1.12_..._tsx@4.23.15, which is no loader.)
  const underTsx = process.execArgv.some((a) => a === 'tsx' || /[/\\]tsx[/\\]dist[/\\]/.test(a));
  const loader = underTsx ? process.execArgv : ['--import', 'tsx'];
  const launch = async (service: MeshService) => {
    const child = spawn(process.execPath, [...loader, mainOf(service)], {
      env: envs[service],
      stdio: ['ignore', options.log ?? 'inherit', 'inherit'],
    });
    children[service] = child;
    await waitServing(addresses[service]!, service, child);
  };
  try {
    for (const service of options.services ?? meshServices()) {
      const port = await freePort();
      const prefix = service.toUpperCase();
      // Each service finds the ones started before it (the controller needs them all).
      const known = Object.fromEntries(Object.entries(addresses).map(([s, a]) => [`${s.toUpperCase()}_ADDR`, a]));
      envs[service] = {
        ...process.env,
        ...known,
        // Searches created through the API get the results folder the CLI's `search` writes.
        ...(service === 'controller' ? { SM_NAS_RESULTS_DIR: process.env.SM_NAS_RESULTS_DIR ?? resolve(dataDir, 'results') } : {}),
        // The trainer's oneDNN threads sleep between kernels rather than spin on the cores the mesh
        // shares (libgomp reads this as the addon loads; see runTrainJob).
        ...(service === 'trainer' ? { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive' } : {}),
        ...options.env,
        [`${prefix}_HOST`]: '127.0.0.1',
        [`${prefix}_PORT`]: String(port),
        [`${prefix}_DATA_DIR`]: resolve(dataDir, service),
        NATS_URL: natsUrl,
        // The trainer and the profiler share these cores: training pauses while a latency is measured.
        [DEVICE_LOCK_ENV]: resolve(dataDir, 'device.lock'),
      };
      addresses[service] = `127.0.0.1:${port}`;
      await launch(service);
    }
  } catch (err) {
    await Promise.all(all().map((c) => stopChild(c)));
    await nats?.stop();
    throw err;
  }
  const mesh: LocalMesh = {
    natsUrl,
    dataDir,
    addresses,
    children,
    async kill(service, signal = 'SIGKILL') {
      const child = children[service];
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
    async restart(service) {
      await mesh.kill(service, 'SIGTERM');
      await launch(service);
    },
    async stop() {
      await Promise.all(all().map((c) => stopChild(c)));
      await nats?.stop();
    },
  };
  return mesh;
}

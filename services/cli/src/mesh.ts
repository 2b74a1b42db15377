// The local mesh of the embedded default: a nats-server child with JetStream in a data directory,
// and each implemented service as its own child process on loopback, exactly as they run in a
// cluster (same main.ts, configured by environment variables).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServer } from '@sm-nas/bus';
import { freePort } from '@sm-nas/bus';
import { HealthDefinition } from 'nice-grpc-server-health';
import { createChannel, createClient } from 'nice-grpc';

/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING (the package does not export the enum). */
const SERVING = 1;

const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export const MESH_SERVICES = ['searchspace', 'flops', 'trainer'] as const;
export type MeshService = (typeof MESH_SERVICES)[number];

export interface LocalMesh {
  natsUrl: string;
  dataDir: string;
  addresses: Record<MeshService, string>;
  stop(): Promise<void>;
}

export interface LocalMeshOptions {
  dataDir: string;
  services?: readonly MeshService[];
  /** Where service logs go; default: inherit (the terminal). */
  log?: 'inherit' | 'ignore';
}

async function waitServing(address: string, service: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
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

function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
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
  const nats: NatsServer = await startNatsServer({ jetstream: true, storeDir: resolve(dataDir, 'jetstream') });
  const children: ChildProcess[] = [];
  const addresses = {} as Record<MeshService, string>;
  try {
    for (const service of options.services ?? MESH_SERVICES) {
      const port = await freePort();
      const prefix = service.toUpperCase();
      // The CLI runs under tsx; its loader flags (execArgv) let the children run TypeScript too.
      const child = spawn(process.execPath, [...process.execArgv, resolve(repoRoot, `services/${service}/src/main.ts`)], {
        env: { ...process.env, [`${prefix}_HOST`]: '127.0.0.1', [`${prefix}_PORT`]: String(port), NATS_URL: nats.url },
        stdio: ['ignore', options.log ?? 'inherit', 'inherit'],
      });
      children.push(child);
      addresses[service] = `127.0.0.1:${port}`;
      await waitServing(addresses[service], service, child);
    }
  } catch (err) {
    await Promise.all(children.map((c) => stopChild(c)));
    await nats.stop();
    throw err;
  }
  return {
    natsUrl: nats.url,
    dataDir,
    addresses,
    async stop() {
      await Promise.all(children.map((c) => stopChild(c)));
      await nats.stop();
    },
  };
}

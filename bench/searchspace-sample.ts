// How many structural candidates per second Sample returns over gRPC, against the same sampling
// called in-process in the same run (the peer: what the wire costs). The server runs in its own
// process, as in the mesh. Run: pnpm exec tsx bench/searchspace-sample.ts
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sampleArchitectures } from '@sm-nas/arch';
import { common, searchspace } from '@sm-nas/proto';
import { createChannel, createClient } from 'nice-grpc';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BATCH = 100;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function timeLoop(fn: (i: number) => Promise<number> | number): Promise<number> {
  let items = 0;
  let i = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) items += await fn(i++);
  return items / ((performance.now() - start) / 1000);
}

const port = await freePort();
const main = fileURLToPath(new URL('../services/searchspace/src/main.ts', import.meta.url));
const child = spawn(process.execPath, [...process.execArgv, main], {
  env: { ...process.env, SEARCHSPACE_PORT: String(port) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const channel = createChannel(`127.0.0.1:${port}`);
const client = createClient(searchspace.SearchSpaceServiceDefinition, channel);
try {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.getSpace({});
      break;
    } catch (err) {
      if (attempt > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stage = common.SearchStage.SEARCH_STAGE_STRUCTURAL;
  // Warm-up both paths.
  for (let i = 0; i < 20; i++) await client.sample({ stage, count: BATCH, seed: 1_000_000 + i });
  for (let i = 0; i < 20; i++) sampleArchitectures('structural', BATCH, 1_000_000 + i);

  const overGrpc = await timeLoop(async (i) => (await client.sample({ stage, count: BATCH, seed: i })).architectures.length);
  const singleCalls = await timeLoop(async (i) => (await client.sample({ stage, count: 1, seed: i })).architectures.length);
  const inProcess = await timeLoop((i) => sampleArchitectures('structural', BATCH, i).length);

  console.log(`Sample over gRPC, ${BATCH} per call: ${Math.round(overGrpc).toLocaleString('en')} structural candidates/s`);
  console.log(`Sample over gRPC, 1 per call:   ${Math.round(singleCalls).toLocaleString('en')} candidates/s (calls/s)`);
  console.log(`sampleArchitectures in-process (peer, same run): ${Math.round(inProcess).toLocaleString('en')} candidates/s`);
  console.log(`ratio gRPC/in-process at ${BATCH} per call: ${(overGrpc / inProcess).toFixed(2)}`);
} finally {
  channel.close();
  child.kill('SIGTERM');
}

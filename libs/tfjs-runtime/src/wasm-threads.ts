// Multi-threaded wasm backend under Node.
//
// tfjs-backend-wasm ships a threaded SIMD binary (Emscripten pthreads, XNNPACK's pthreadpool) but
// refuses it under Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false there, tensorflow/tfjs#3830). The
// reasons are all in the loader, none in the binary:
// - the pthread worker script and the main script reach Emscripten as `Blob` object URLs, which
//   Node's `worker_threads.Worker` and the worker's `importScripts` (a `readFileSync` shim) cannot
//   open: we write both scripts to a temporary folder and hand out their paths instead;
// - the backend's C++ caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two
//   hyper-threads per core), which is `os.cpus().length / 2` under Node: we report twice the CPUs
//   while the module starts, so that the cap is the real CPU count.
// The pool holds at most 8 threads (the binary pre-creates 8 workers).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

let scripts: { worker: string; main: string } | undefined;

function writeScripts(): { worker: string; main: string } {
  if (scripts) return scripts;
  const wasmOut = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
  const factoryModule = require(join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js')) as
    | ((...args: unknown[]) => unknown)
    | { default: (...args: unknown[]) => unknown };
  const factory = typeof factoryModule === 'function' ? factoryModule : factoryModule.default;
  const { wasmWorkerContents } = require(join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  const dir = mkdtempSync(join(os.tmpdir(), 'sm-nas-tfjs-wasm-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const main = join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  writeFileSync(main, `var WasmBackendModuleThreadedSimd = ${factory.toString()};\n`);
  const worker = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  // The worker turns the main script's Blob into an object URL before importScripts: point it at
  // the file. tfjs escapes the newlines of the template literal the same way.
  writeFileSync(
    worker,
    `URL.createObjectURL = () => ${JSON.stringify(main)}; URL.revokeObjectURL = () => {};\n` +
      wasmWorkerContents.replace(/\n/g, '\\n'),
  );
  scripts = { worker, main };
  return scripts;
}

/**
 * Runs `start` (which initialises the wasm backend) with the patches that let the threaded binary
 * load under Node. Restores `URL.createObjectURL` and `os.cpus` afterwards.
 */
export async function withNodeWasmThreads<T>(start: () => Promise<T>): Promise<T> {
  const { worker, main } = writeScripts();
  const createObjectURL = URL.createObjectURL.bind(URL);
  const cpus = os.cpus;
  URL.createObjectURL = (blob: Blob) => (blob.type === 'application/javascript' ? worker : main);
  os.cpus = () => {
    const list = cpus();
    return [...list, ...list];
  };
  try {
    return await start();
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}

// Install script: builds the addon with node-gyp against the system's oneDNN (Debian:
// libdnnl-dev). Never fails the install: when oneDNN, the compiler or node-gyp is missing, or the
// build fails, it writes why to build/status.json, and the package reports that at run time.
//   node scripts/build.mjs    (also `pnpm --filter @sm-nas/native-kernels build`)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = join(dirname(process.execPath), '..');

function finish(built, reason, log = '') {
  mkdirSync(join(root, 'build'), { recursive: true });
  // A stale addon from an earlier build would contradict the status.
  if (!built) rmSync(join(root, 'build', 'Release', 'native_kernels.node'), { force: true });
  writeFileSync(join(root, 'build', 'status.json'), `${JSON.stringify({ built, reason, node: process.version }, null, 2)}\n`);
  if (log) writeFileSync(join(root, 'build', 'build.log'), log);
  process.stdout.write(`@sm-nas/native-kernels: ${built ? 'built' : `not built: ${reason}`}\n`);
  process.exit(0);
}

const off = (process.env.SM_NAS_NATIVE ?? '').trim().toLowerCase();
if (['0', 'false', 'off', 'no'].includes(off)) finish(false, `SM_NAS_NATIVE=${process.env.SM_NAS_NATIVE} at install`);

const includeDirs = ['/usr/include', '/usr/local/include', ...(process.env.CPATH ?? '').split(':').filter(Boolean)];
if (!includeDirs.some((d) => existsSync(join(d, 'oneapi', 'dnnl', 'dnnl.hpp')))) {
  finish(false, 'oneDNN headers not found (oneapi/dnnl/dnnl.hpp; Debian: apt-get install libdnnl-dev)');
}
const cxx = process.env.CXX ?? 'g++';
if (spawnSync(cxx, ['--version']).status !== 0) finish(false, `no C++ compiler (${cxx}; Debian: apt-get install g++ make)`);

// node-gyp: the one pnpm puts on PATH for lifecycle scripts, else npm's.
const npmGyp = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = spawnSync('node-gyp', ['--version']).status === 0 ? ['node-gyp'] : existsSync(npmGyp) ? [process.execPath, npmGyp] : undefined;
if (!gyp) finish(false, 'node-gyp not found (neither on PATH nor in npm)');

// Node's own headers when installed (Debian's nodejs, or a tarball install): no download.
const args = ['rebuild'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const run = spawnSync(gyp[0], [...gyp.slice(1), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const log = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`;
if (run.status !== 0 || !existsSync(join(root, 'build', 'Release', 'native_kernels.node'))) {
  const error = log.split('\n').find((l) => /error/i.test(l)) ?? `exit ${run.status}`;
  finish(false, `node-gyp ${args.join(' ')} failed: ${error.trim()} (see build/build.log)`, log);
}
finish(true, `node-gyp ${args.join(' ')}`, log);

// The container images, checked structurally (no Docker engine runs here, so they are not built in
// CI): every image the manifests use has a Dockerfile in deploy/docker; each is multi-stage, copies
// its build output from an earlier stage, ends as a numeric non-root USER, exposes the port the
// manifests probe, and deploys the workspace package whose main.ts it runs; the GPU ones run tfjs's
// webgpu backend on the Node image with Vulkan (no CUDA), and keep @tensorflow/tfjs-node-gpu on CUDA
// as a build-argument variant.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { K8S, REPO, findKubectl, isWorkload, overlays, render } from './k8s-render.js';

const DOCKER = join(REPO, 'deploy', 'docker');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function parse(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

function stages(instructions: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of instructions) {
    if (i.op === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

const dockerfiles = readdirSync(DOCKER).filter((f) => f.endsWith('.Dockerfile'));
const imageOf = (file: string) => file.replace(/\.Dockerfile$/, '');

/** Images the manifests reference, by name without tag: `sm-nas/flops`. */
let cached: Map<string, number> | undefined;
function manifestImages(): Map<string, number> {
  if (cached) return cached;
  const kubectl = findKubectl();
  const images = new Map<string, number>();
  for (const overlay of overlays()) {
    for (const o of render(kubectl, join(K8S, 'overlays', overlay)).filter(isWorkload)) {
      for (const c of o.spec.template.spec.containers) {
        const name = c.image.replace(/:[^/]+$/, '');
        const port = c.ports?.find((p) => p.name === 'grpc')?.containerPort;
        if (name.startsWith('sm-nas/') && port) images.set(name.slice('sm-nas/'.length), port);
      }
    }
  }
  cached = images;
  return images;
}

describe('deploy/docker', () => {
  it('has a Dockerfile for every sm-nas image the manifests use', () => {
    const images = manifestImages();
    expect([...images.keys()].sort()).toEqual(
      expect.arrayContaining(['controller', 'flops', 'profiler', 'profiler-gpu', 'searchspace', 'suggestion', 'trainer-gpu']),
    );
    for (const image of images.keys()) expect(dockerfiles, image).toContain(`${image}.Dockerfile`);
  });

  it.each(dockerfiles)('%s is multi-stage, copies from its build stage and ends as a non-root user', (file) => {
    const all = parse(readFileSync(join(DOCKER, file), 'utf8'));
    const s = stages(all);
    expect(s.length, 'FROM stages').toBeGreaterThanOrEqual(2);
    const final = s.at(-1)!;
    expect(final.some((i) => i.op === 'COPY' && /--from=build\b/.test(i.args)), 'final stage copies from the build stage').toBe(true);
    // The last USER of the final stage is a numeric uid other than 0 (runAsNonRoot needs a number).
    const user = final.filter((i) => i.op === 'USER').at(-1);
    expect(user?.args, 'USER').toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(final.findIndex((i) => i === user), 'USER comes after the last RUN').toBeGreaterThan(final.findLastIndex((i) => i.op === 'RUN'));
    expect(all.some((i) => i.op === 'ADD' && /https?:\/\//.test(i.args)), 'no ADD of a URL').toBe(false);
    expect(final.at(-1)?.op === 'ENTRYPOINT' || final.some((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD')).toBe(true);
  });

  it.each(dockerfiles)('%s exposes the port the manifests use and deploys the package that serves it', (file) => {
    const text = readFileSync(join(DOCKER, file), 'utf8');
    const image = imageOf(file);
    const service = image.replace(/-gpu$/, '');
    const port = manifestImages().get(image) ?? manifestImages().get(service);
    expect(port, `a manifest runs sm-nas/${image} or sm-nas/${service}`).toBeDefined();
    const final = stages(parse(text)).at(-1)!;
    expect(final.find((i) => i.op === 'EXPOSE')?.args).toBe(String(port));
    expect(final.find((i) => i.op === 'ENV')?.args).toContain(`${service.toUpperCase()}_PORT=${port}`);
    const pkg = /ARG PACKAGE=(\S+)/.exec(text)?.[1];
    expect(pkg, 'ARG PACKAGE').toMatch(/^@sm-nas\//);
    // Services that exist already: the package is the one in services/<service>.
    const manifest = join(REPO, 'services', service, 'package.json');
    if (existsSync(manifest)) {
      expect((JSON.parse(readFileSync(manifest, 'utf8')) as { name: string }).name).toBe(pkg);
      expect(existsSync(join(REPO, 'services', service, 'src', 'main.ts')), 'src/main.ts').toBe(true);
    }
  });

  it('builds the GPU images for webgpu on the Node image with Vulkan, the CUDA tfjs-node-gpu variant by build arguments', () => {
    const workspace = readFileSync(join(REPO, 'pnpm-workspace.yaml'), 'utf8');
    const tfjs = /"@tensorflow\/tfjs-core": (\S+)/.exec(workspace)?.[1];
    const gpu = dockerfiles.filter((f) => f.includes('-gpu.'));
    expect(gpu.sort()).toEqual(['profiler-gpu.Dockerfile', 'trainer-gpu.Dockerfile']);
    for (const file of gpu) {
      const text = readFileSync(join(DOCKER, file), 'utf8');
      const arg = (name: string) => new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(text)?.[1];
      // By default the runtime is the Node image the other images use, and the backend is webgpu.
      expect(arg('NODE_IMAGE'), file).toMatch(/^node:20[\d.]*-bookworm-slim$/);
      expect(arg('BASE_IMAGE'), file).toBe('${NODE_IMAGE}');
      expect(arg('TFJS_BACKEND'), file).toBe('webgpu');
      const all = stages(parse(text));
      const final = all.at(-1)!;
      expect(final[0]!.args, file).toBe('${BASE_IMAGE} AS runtime');
      // Built on the runtime's base, so that a native addon compiled there finds the same glibc.
      const build = all.find((stage) => stage[0]!.args.endsWith(' AS build'));
      expect(build?.[0]!.args, file).toBe('${BASE_IMAGE} AS build');
      const env = final.filter((i) => i.op === 'ENV').flatMap((i) => i.args.split(/\s+/));
      expect(env, file).toContain('SM_NAS_TFJS_BACKEND=${TFJS_BACKEND}');
      // The NVIDIA container toolkit mounts the Vulkan ICD only for `graphics`.
      expect(env.find((e) => e.startsWith('NVIDIA_DRIVER_CAPABILITIES='))?.split('=')[1]?.split(','), file).toEqual(
        expect.arrayContaining(['compute', 'utility', 'graphics']),
      );
      expect(env, file).toContain('NVIDIA_VISIBLE_DEVICES=all');
      // Mesa's shader cache would write to a read-only root (or fill the small /tmp emptyDir).
      expect(env.some((e) => e === 'MESA_SHADER_CACHE_DISABLE=true' || e.startsWith('MESA_SHADER_CACHE_DIR=/tmp/')), `${file} Mesa shader cache`).toBe(true);
      const run = final.filter((i) => i.op === 'RUN').flatMap((i) => i.args.split(/\s+/));
      for (const pkg of ['libvulkan1', 'libglvnd0', 'libglx0', 'libegl1', 'libgl1', 'libopengl0', 'libgles2', 'mesa-vulkan-drivers']) {
        expect(run, `${file} installs ${pkg}`).toContain(pkg);
      }
      // No software Vulkan adapter: a GPU image without its GPU fails instead of measuring a CPU.
      expect(final.some((i) => i.op === 'RUN' && /rm -f \/usr\/share\/vulkan\/icd\.d\/lvp_icd\./.test(i.args)), `${file} drops lavapipe`).toBe(true);
      // The CUDA variant: libtensorflow 2.9 wants CUDA 11.2 and cuDNN 8; tfjs-node-gpu on the workspace's tfjs-core.
      expect(text).toMatch(/--build-arg BASE_IMAGE=nvidia\/cuda:11\.2\S*-cudnn8-\S+ --build-arg TFJS_BACKEND=tensorflow/);
      const add = build!.find((i) => i.op === 'RUN' && i.args.includes('@tensorflow/tfjs-node-gpu@'));
      expect(add?.args, `${file} adds tfjs-node-gpu for the CUDA variant only`).toMatch(/if \[ "\$\{TFJS_BACKEND\}" = tensorflow \]/);
      expect(add?.args).toContain(`@tensorflow/tfjs-node-gpu@${tfjs}`);
    }
  });

  it('has a .dockerignore that keeps node_modules and .git out of the build context', () => {
    const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '.git']));
  });
});

// One training step (forward, backward, SGD-momentum update) in tfjs (the backend initBackend
// picks) and in PyTorch on the same networks, same batch, same threads, measured in the same run.
//
//   pnpm exec tsx bench/train-step.ts
//   With @sm-nas/native-kernels built, each network runs with the native (oneDNN) convolutions and again
//   with XNNPACK's (BENCH_NATIVE_OFF=0 skips the second run); SM_NAS_NATIVE=0 turns native off.
//   BENCH_STEPS (default 5 timed steps after 2 warm-up steps), BENCH_THREADS (default: all CPUs),
//   BENCH_NETS (comma list of conv6,resnet18,resnet50,retinanet), BENCH_PYTHON (default
//   /usr/bin/python3, Debian's python3-torch).
//
// The classifiers are built by hand here, after torchvision's definitions (ResNet v1.5: the stride
// on the 3x3 of a bottleneck; BatchNorm in training mode, libs/tfjs-runtime's batchNormTraining).
// The detector is libs/detector's from the architecture IR, against bench/learning's PyTorch
// RetinaNet; the bench checks that both have the same number of parameters.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArchitecture } from '../libs/arch/src/index.js';
import { createDetector } from '../libs/detector/src/index.js';
import { batchNormTraining, initBackend, tf, useNativeKernels, useWasmConv2DBackpropInput } from '../libs/tfjs-runtime/src/index.js';
import { ensureTorchPeer, PYTHON, torchEnv } from './torch-peer.js';

type Pad4 = [[0, 0], [number, number], [number, number], [0, 0]];
const pad = (p: number): Pad4 => [[0, 0], [p, p], [p, p], [0, 0]];

interface Net {
  name: string;
  batch: number;
  size: number;
  classes: number;
  params: tf.Variable[];
  forward?: (x: tf.Tensor4D) => tf.Tensor2D;
  /** A whole training step of its own (the detector); else softmax cross-entropy on `forward`. */
  trainStep?: (optimizer: tf.Optimizer) => Promise<unknown>;
}

function builder() {
  const params: tf.Variable[] = [];
  const conv = (ci: number, co: number, k: number) => {
    const w = tf.variable(tf.randomNormal([k, k, ci, co], 0, Math.sqrt(2 / (k * k * ci))));
    params.push(w);
    return (x: tf.Tensor4D, stride: number): tf.Tensor4D => tf.conv2d(x, w as tf.Tensor4D, stride, pad(Math.floor(k / 2)));
  };
  const bn = (c: number) => {
    const gamma = tf.variable(tf.ones([c]));
    const beta = tf.variable(tf.zeros([c]));
    params.push(gamma, beta);
    // Training mode (batch statistics), ReLU fused when one follows; native with @sm-nas/native-kernels,
    // else tfjs's moments + batchNorm.
    return (x: tf.Tensor4D, relu = false): tf.Tensor4D => batchNormTraining(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, { epsilon: 1e-5, relu }).y;
  };
  const linear = (ci: number, co: number) => {
    const w = tf.variable(tf.randomNormal([ci, co], 0, Math.sqrt(1 / ci)));
    const b = tf.variable(tf.zeros([co]));
    params.push(w, b);
    return (x: tf.Tensor2D) => tf.add(tf.matMul(x, w as tf.Tensor2D), b) as tf.Tensor2D;
  };
  return { params, conv, bn, linear };
}

/** Six 3x3 convolutions with ReLU (two of stride 2), global average pool, linear. */
function conv6(batch: number, size: number): Net {
  const { params, conv, linear } = builder();
  const layers: [ReturnType<typeof conv>, number][] = [
    [conv(3, 32, 3), 1], [conv(32, 32, 3), 1], [conv(32, 64, 3), 2],
    [conv(64, 64, 3), 1], [conv(64, 128, 3), 2], [conv(128, 128, 3), 1],
  ];
  const fc = linear(128, 10);
  return {
    name: 'conv6', batch, size, classes: 10, params,
    forward: (x) => {
      let h = x;
      for (const [c, s] of layers) h = tf.relu(c(h, s));
      return fc(tf.mean(h, [1, 2]) as tf.Tensor2D);
    },
  };
}

/** torchvision resnet18 / resnet50 (v1.5), num_classes 10. */
function resnet(depth: 18 | 50, batch: number, size: number): Net {
  const { params, conv, bn, linear } = builder();
  const blocks = depth === 18 ? [2, 2, 2, 2] : [3, 4, 6, 3];
  const expansion = depth === 18 ? 1 : 4;
  const stem = conv(3, 64, 7);
  const stemBn = bn(64);
  type Block = (x: tf.Tensor4D) => tf.Tensor4D;
  const body: Block[] = [];
  let inC = 64;
  [64, 128, 256, 512].forEach((width, stage) => {
    for (let i = 0; i < blocks[stage]!; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      const outC = width * expansion;
      const down = stride !== 1 || inC !== outC ? { c: conv(inC, outC, 1), b: bn(outC) } : undefined;
      let main: Block;
      if (depth === 18) {
        const c1 = conv(inC, width, 3), b1 = bn(width), c2 = conv(width, width, 3), b2 = bn(width);
        main = (x) => b2(c2(b1(c1(x, stride), true), 1));
      } else {
        const c1 = conv(inC, width, 1), b1 = bn(width), c2 = conv(width, width, 3), b2 = bn(width);
        const c3 = conv(width, outC, 1), b3 = bn(outC);
        main = (x) => b3(c3(b2(c2(b1(c1(x, 1), true), stride), true), 1));
      }
      body.push((x) => tf.relu(tf.add(main(x), down ? down.b(down.c(x, stride)) : x)) as tf.Tensor4D);
      inC = outC;
    }
  });
  const fc = linear(inC, 10);
  return {
    name: `resnet${depth}`, batch, size, classes: 10, params,
    forward: (x) => {
      let h = tf.maxPool(stemBn(stem(x, 2), true), 3, 2, 1) as tf.Tensor4D;
      for (const b of body) h = b(h);
      return fc(tf.mean(h, [1, 2]) as tf.Tensor2D);
    },
  };
}

/** Three boxes per image (x1, y1, x2, y2 in input pixels) and their labels: the same on both sides. */
function detectionTargets(batch: number, size: number, classes: number): { boxes: number[][]; labels: number[][] } {
  const s = size / 64;
  const boxes = Array.from({ length: batch }, (_, i) => [4 + i, 6, 30, 34, 20, 16, 60, 62, 40, 4 + (i % 4), 52, 14].map((v) => Math.round(v * s)));
  const labels = Array.from({ length: batch }, (_, i) => [i % classes, (i + 2) % classes, (i + 4) % classes]);
  return { boxes, labels };
}

/**
 * RetinaNet-ResNet-18-FPN (P3-P6, width 64, GN + WS, from scratch) from libs/detector: the network
 * bench/learning/pytorch_retinanet.py defines in PyTorch (equal parameter counts; see its header).
 * Step: focal + smooth-L1 loss with anchor assignment, gradient clipping at 35, SGD momentum.
 */
function retinanet(batch: number, size: number): Net {
  const classes = 6;
  const arch = parseArchitecture(`resnet18:64:11-21-21-21/fpn:3-6:64/none/retinanet:64/${size}x${size}`);
  const det = createDetector(arch, { numClasses: classes, norm: 'group_norm', seed: 0, gradClipMaxNorm: 35 });
  const images = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const t = detectionTargets(batch, size, classes);
  const trainBatch = { images, boxes: t.boxes.map((b) => Float32Array.from(b)), labels: t.labels.map((l) => Int32Array.from(l)) };
  return {
    name: 'retinanet', batch, size, classes, params: det.trainableVariables(),
    trainStep: (optimizer) => det.trainStep(optimizer, trainBatch),
  };
}

async function timeTfjs(net: Net, steps: number): Promise<{ ms: number; cpuMs: number }> {
  const optimizer = tf.train.momentum(0.01, 0.9);
  const x = tf.randomNormal([net.batch, net.size, net.size, 3]) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: net.batch }, (_, i) => i % net.classes), 'int32'), net.classes);
  const step = net.trainStep ? () => net.trainStep!(optimizer) : async () => {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, net.forward!(x)) as tf.Scalar, true, net.params);
    await loss!.data();
    loss!.dispose();
  };
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await step();
    const c = process.cpuUsage(c0);
    if (i >= 2) {
      times.push(performance.now() - t0);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  optimizer.dispose();
  tf.dispose([x, labels]);
  return { ms: median(times), cpuMs: median(cpu) };
}

const PYTORCH = String.raw`
import json, sys, time, statistics
import torch, torch.nn as nn, torchvision
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg['threads'])
def conv6():
    layers, c = [], 3
    for co, s in [(32, 1), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]:
        layers += [nn.Conv2d(c, co, 3, s, 1, bias=False), nn.ReLU()]  # ours has no conv bias
        c = co
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))
def detector_step(n):
    sys.path.insert(0, cfg['learning_dir'])
    import pytorch_retinanet as pr
    torch.manual_seed(0)
    net = pr.RetinaNetR18(n['classes'], 64, 64)
    x = torch.randn(n['batch'], 3, n['size'], n['size'])
    targets = [(torch.tensor(b, dtype=torch.float32).reshape(-1, 4), torch.tensor(l)) for b, l in zip(n['boxes'], n['labels'])]
    anchors = []
    def loss():
        cls, reg, shapes = net(x)
        if not anchors: anchors.append(pr.grid_anchors(shapes))
        l_cls, l_box, _ = pr.retina_loss(cls, reg, anchors[0], targets)
        return l_cls + l_box
    return net, loss, lambda: nn.utils.clip_grad_norm_(net.parameters(), 35)
out, cpu_ms, params = {}, {}, {}
for n in cfg['nets']:
    clip = lambda: None
    if n['name'] == 'retinanet':
        net, loss_of, clip = detector_step(n)
    else:
        net = conv6() if n['name'] == 'conv6' else getattr(torchvision.models, n['name'])(num_classes=10)
        x = torch.randn(n['batch'], 3, n['size'], n['size'])
        y = torch.arange(n['batch']) % 10
        loss_fn = nn.CrossEntropyLoss()
        loss_of = lambda: loss_fn(net(x), y)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    times, cpu = [], []
    for i in range(cfg['steps'] + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        clip()
        opt.step()
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    out[n['name']] = statistics.median(times)
    cpu_ms[n['name']] = statistics.median(cpu)
    params[n['name']] = sum(p.numel() for p in net.parameters())
print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ms': out, 'cpu_ms': cpu_ms, 'params': params}))
`;

function timePytorch(nets: Net[], steps: number, threads: number): { torch: string; threads: number; ms: Record<string, number>; cpu_ms: Record<string, number>; params: Record<string, number> } {
  ensureTorchPeer();
  const python = PYTHON;
  const dir = mkdtempSync(join(os.tmpdir(), 'sm-nas-bench-'));
  try {
    const script = join(dir, 'train_step.py');
    writeFileSync(script, PYTORCH);
    const learningDir = fileURLToPath(new URL('./learning', import.meta.url));
    const cfg = {
      threads, steps, learning_dir: learningDir,
      nets: nets.map((n) => ({ name: n.name, batch: n.batch, size: n.size, classes: n.classes, ...(n.trainStep ? detectionTargets(n.batch, n.size, n.classes) : {}) })),
    };
    const run = spawnSync(python, [script, JSON.stringify(cfg)], { encoding: 'utf8', maxBuffer: 1 << 20, env: torchEnv(cfg.threads) });
    if (run.status !== 0) throw new Error(`${python} failed: ${run.stderr}`);
    return JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; ms: Record<string, number>; cpu_ms: Record<string, number>; params: Record<string, number> };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const steps = Number(process.env.BENCH_STEPS ?? 5);
const threadsEnv = process.env.BENCH_THREADS;
const info = await initBackend(threadsEnv ? { threads: Number(threadsEnv) } : {});
const threads = Math.max(1, info.threads);
const wanted = (process.env.BENCH_NETS ?? 'conv6,resnet18,resnet50,retinanet').split(',');
const builders: Record<string, () => Net> = {
  conv6: () => conv6(32, 64), resnet18: () => resnet(18, 16, 64), resnet50: () => resnet(50, 8, 64), retinanet: () => retinanet(8, 128),
};
const nets = Object.keys(builders).filter((n) => wanted.includes(n)).map((n) => builders[n]!());

const rows: { name: string; shape: string; tfjs: { ms: number; cpuMs: number }; note?: string }[] = [];
const compareOff = info.native !== undefined && process.env.BENCH_NATIVE_OFF !== '0';
for (const net of nets) {
  rows.push({ name: net.name, shape: `${net.batch}x${net.size}x${net.size}`, tfjs: await timeTfjs(net, steps), note: info.native ? `${info.native} convolutions, native norms` : undefined });
  if (compareOff) {
    useNativeKernels(false);
    rows.push({ name: net.name, shape: `${net.batch}x${net.size}x${net.size}`, tfjs: await timeTfjs(net, steps), note: 'native off: XNNPACK' });
    useNativeKernels(true);
  } else if (net.name === 'conv6' && info.name === 'wasm' && !info.native) {
    useWasmConv2DBackpropInput('wasm');
    rows.push({ name: net.name, shape: `${net.batch}x${net.size}x${net.size}`, tfjs: await timeTfjs(net, steps), note: "wasm's own Conv2DBackpropInput" });
    useWasmConv2DBackpropInput('composed');
  }
}
const torch = timePytorch(nets, steps, threads);
console.log(`\ntfjs ${info.name} (${info.version}${info.native ? ` + ${info.native}` : ''}, ${info.threads} threads) vs PyTorch ${torch.torch} (${torch.threads} threads), median of ${steps} steps\n`);
// CPU time (all threads of the process) next to wall time: on a machine shared with other jobs the
// wall-time ratio moves with their load, the CPU-time ratio much less.
console.log('| network | batch x H x W | tfjs ms/step | PyTorch ms/step | tfjs / PyTorch | tfjs CPU ms | PyTorch CPU ms | CPU ratio |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const t = torch.ms[r.name]!;
  const c = torch.cpu_ms[r.name]!;
  console.log(`| ${r.name}${r.note ? ` (${r.note})` : ''} | ${r.shape} | ${r.tfjs.ms.toFixed(0)} | ${t.toFixed(0)} | ${(r.tfjs.ms / t).toFixed(2)} | ${r.tfjs.cpuMs.toFixed(0)} | ${c.toFixed(0)} | ${(r.tfjs.cpuMs / c).toFixed(2)} |`);
}
// Same network on both sides: same parameter count (printed after the table, so a mismatch does not hide the timings).
for (const net of nets) {
  const ours = net.params.reduce((a, p) => a + p.size, 0);
  const theirs = torch.params[net.name];
  console.log(`${net.name}: ${ours} parameters in tfjs, ${theirs} in PyTorch${ours === theirs ? '' : ' — NOT THE SAME NETWORK'}`);
  if (ours !== theirs) process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);

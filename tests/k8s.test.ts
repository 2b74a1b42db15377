// deploy/k8s: every overlay renders with `kubectl kustomize`, every object validates against the
// Kubernetes API schemas (kubernetes-models, @kubernetes-models/keda), and the policy holds:
// every container has requests, limits, probes, a non-root user and a locked-down securityContext;
// every profiler DaemonSet selects exactly one hardware type; every container that takes a GPU runs
// the webgpu backend, and on NVIDIA asks for the driver's Vulkan ICD; names that live in code (ports,
// the training queue's stream and consumer) agree with the code; the NATS config each overlay
// renders is accepted by a real nats-server, and with the auth component refuses anonymous clients.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  STREAMS,
  TRAINERS_DURABLE,
  connectBus,
  ensurePipelineStreams,
  ensureTrainersConsumer,
  freePort,
  natsServerBinary,
  startNatsServer,
  type NatsServer,
} from '@sm-nas/bus';
import { DEFAULT_PORTS, LIMIT_ENV, loadNatsSecurity } from '@sm-nas/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  K8S,
  REPO,
  envValue,
  findKubectl,
  isWorkload,
  modelFor,
  overlays,
  render,
  type Container,
  type K8sObject,
  type Workload,
} from './k8s-render.js';
import { createTestPki, type TestPki } from './security-pki.js';

/** The gRPC services and their default ports, which the manifests spell out in YAML. */
const SERVICE_PORTS: Record<string, number> = DEFAULT_PORTS;
/**
 * The GPU vendors a profiler measures on (WebGPU through Vulkan): the node label whose one value names
 * one GPU model, and the device plugin's resource, which is also the key of the taint GPU nodes carry.
 */
const GPU_VENDORS = [
  // NVIDIA GPU Feature Discovery (part of the GPU Operator).
  { vendor: 'nvidia', label: 'nvidia.com/gpu.product', resource: 'nvidia.com/gpu' },
  // AMD's node labeller (ROCm/k8s-device-plugin): the PCI device id.
  { vendor: 'amd', label: 'amd.com/gpu.device-id', resource: 'amd.com/gpu' },
  // The NFD rules of intel-device-plugins-for-kubernetes; the i915 kernel driver's resource.
  { vendor: 'intel', label: 'gpu.intel.com/product', resource: 'gpu.intel.com/i915' },
] as const;
const GPU_RESOURCES: readonly string[] = GPU_VENDORS.map((v) => v.resource);
const CPU_LABEL = 'sm-nas.io/hardware-class';
/** Secrets the manifests expect the operator to create (README "Run on Kubernetes" explains each). */
const EXTERNAL_SECRETS = new Set(['sm-nas-tls', 'sm-nas-nats-client', 'sm-nas-api-token']);

const kubectl = findKubectl();
const rendered = new Map<string, K8sObject[]>();
for (const overlay of overlays()) rendered.set(overlay, render(kubectl, join(K8S, 'overlays', overlay)));

const all = (): [string, K8sObject][] => [...rendered].flatMap(([o, objs]) => objs.map((x): [string, K8sObject] => [o, x]));
const workloads = (): [string, Workload][] => all().filter((e): e is [string, Workload] => isWorkload(e[1]));
const containersOf = (w: Workload): Container[] => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
const serviceName = (w: Workload) => w.metadata.labels?.['app.kubernetes.io/name'] ?? '';
const isSmNasService = (w: Workload) => serviceName(w) in SERVICE_PORTS;
const profilers = (objs: K8sObject[]) => objs.filter((o): o is Workload => o.kind === 'DaemonSet' && o.metadata.labels?.['app.kubernetes.io/name'] === 'profiler');
/** The GPU resources a container asks for, in requests or limits. */
const gpusOf = (c: Container) => GPU_RESOURCES.filter((r) => c.resources?.requests?.[r] !== undefined || c.resources?.limits?.[r] !== undefined);

describe('deploy/k8s renders', () => {
  it('has the local and cluster overlays and one profiler overlay per hardware type', () => {
    expect([...rendered.keys()]).toEqual(
      expect.arrayContaining([
        'local',
        'cluster',
        'profiler-cpu',
        'profiler-nvidia-t4',
        'profiler-nvidia-a100',
        'profiler-nvidia-h100',
        'profiler-amd-radeon-pro-w7900',
        'profiler-intel-flex-170',
      ]),
    );
  });

  it('validates every object of every overlay against the Kubernetes API schemas', async () => {
    const problems: string[] = [];
    let validated = 0;
    for (const [overlay, o] of all()) {
      const Model = await modelFor(o.apiVersion, o.kind);
      if (!Model) {
        problems.push(`${overlay}: ${o.apiVersion} ${o.kind}: no schema`);
        continue;
      }
      try {
        new Model(o).validate();
        validated++;
      } catch (err) {
        problems.push(`${overlay}: ${id(o)}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
    expect(validated).toBeGreaterThan(50);
  });

  it('the schema check catches a broken manifest (a probe port that is not a number)', async () => {
    const deployment = rendered.get('local')!.find((o) => o.kind === 'Deployment' && o.metadata.name === 'flops') as Workload;
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0]!.readinessProbe = { grpc: { port: 'grpc' as unknown as number } };
    const Model = (await modelFor('apps/v1', 'Deployment'))!;
    expect(() => new Model(broken).validate()).toThrow(/readinessProbe\/grpc\/port/);
  });

  it('puts everything in the sm-nas namespace with app.kubernetes.io labels', () => {
    for (const [overlay, o] of all()) {
      if (o.kind === 'Namespace') continue;
      expect(o.metadata.namespace, `${overlay} ${id(o)}`).toBe('sm-nas');
      expect(o.metadata.labels?.['app.kubernetes.io/part-of'], `${overlay} ${id(o)}`).toBe('sm-nas');
    }
    for (const [overlay, w] of workloads()) {
      const labels = w.spec.template.metadata.labels;
      expect(labels['app.kubernetes.io/name'], `${overlay} ${id(w)}`).toBeTruthy();
      expect(labels['app.kubernetes.io/part-of'], `${overlay} ${id(w)}`).toBe('sm-nas');
    }
  });
});

describe('policy: every container', () => {
  it('has CPU and memory requests and limits', () => {
    for (const [overlay, w] of workloads()) {
      for (const c of containersOf(w)) {
        const where = `${overlay} ${id(w)} ${c.name}`;
        for (const r of ['cpu', 'memory']) {
          expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeDefined();
          expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeDefined();
        }
      }
    }
  });

  it('has readiness and liveness probes; sm-nas services use kubelet gRPC probes on the health port', () => {
    for (const [overlay, w] of workloads()) {
      for (const c of w.spec.template.spec.containers) {
        const where = `${overlay} ${id(w)} ${c.name}`;
        expect(c.readinessProbe, `${where} readinessProbe`).toBeDefined();
        expect(c.livenessProbe, `${where} livenessProbe`).toBeDefined();
        if (!isSmNasService(w)) continue;
        // With TLS the probes move to the plaintext health-only port; otherwise the gRPC port.
        const healthPort = envValue(c, 'GRPC_HEALTH_PORT');
        const port = healthPort ? Number(healthPort) : SERVICE_PORTS[serviceName(w)];
        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) expect(probe?.grpc?.port, where).toBe(port);
      }
    }
  });

  it('runs as a non-root user, read-only, without privilege escalation or capabilities, under seccomp', () => {
    for (const [overlay, w] of workloads()) {
      const pod = w.spec.template.spec.securityContext ?? {};
      for (const c of containersOf(w)) {
        const where = `${overlay} ${id(w)} ${c.name}`;
        const sc = c.securityContext ?? {};
        expect(sc.runAsNonRoot ?? pod.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
        expect(sc.runAsUser ?? pod.runAsUser, `${where} runAsUser`).toBeGreaterThan(0);
        expect(sc.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).toBe(true);
        expect(sc.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).toBe(false);
        expect(sc.capabilities?.drop, `${where} capabilities.drop`).toEqual(['ALL']);
        expect((sc.seccompProfile ?? pod.seccompProfile)?.type, `${where} seccompProfile`).toBe('RuntimeDefault');
      }
    }
  });

  it('runs tfjs on webgpu when it takes a GPU, and on an NVIDIA GPU asks the container toolkit for the Vulkan ICD', () => {
    let seen = 0;
    for (const [overlay, w] of workloads()) {
      for (const c of containersOf(w)) {
        const gpus = gpusOf(c);
        if (gpus.length === 0) continue;
        seen++;
        const where = `${overlay} ${id(w)} ${c.name}`;
        // Forced, not auto: without its GPU the pod fails saying why instead of running on the CPU.
        expect(envValue(c, 'SM_NAS_TFJS_BACKEND'), `${where} SM_NAS_TFJS_BACKEND`).toBe('webgpu');
        if (!gpus.includes('nvidia.com/gpu')) continue;
        // graphics: nvidia_icd.json and libGLX_nvidia; utility: nvidia-smi, which names the GPU.
        const capabilities = (envValue(c, 'NVIDIA_DRIVER_CAPABILITIES') ?? '').split(',');
        if (!capabilities.includes('all')) expect(capabilities, `${where} NVIDIA_DRIVER_CAPABILITIES`).toEqual(expect.arrayContaining(['compute', 'utility', 'graphics']));
      }
    }
    expect(seen).toBeGreaterThanOrEqual(11);
  });

  it('uses a tagged image (not latest) in the local and cluster overlays', () => {
    for (const [overlay, w] of workloads()) {
      if (!['local', 'cluster'].includes(overlay)) continue;
      for (const c of containersOf(w)) expect(c.image, `${overlay} ${id(w)}`).toMatch(/^[^@]+:(?!latest$)[\w.-]+$/);
    }
  });
});

describe('policy: the sm-nas services', () => {
  it('each has a Deployment (or profiler DaemonSets), a ServiceAccount and a Service with a port named grpc', () => {
    for (const overlay of ['local', 'cluster']) {
      const objs = rendered.get(overlay)!;
      for (const [name, port] of Object.entries(SERVICE_PORTS)) {
        const kind = name === 'profiler' ? 'DaemonSet' : 'Deployment';
        const ws = objs.filter((o): o is Workload => o.kind === kind && o.metadata.labels?.['app.kubernetes.io/name'] === name);
        expect(ws.length, `${overlay} ${name}`).toBeGreaterThan(0);
        for (const w of ws) {
          const c = w.spec.template.spec.containers[0]!;
          expect(c.ports?.find((p) => p.name === 'grpc')?.containerPort, `${overlay} ${id(w)}`).toBe(port);
          expect(envValue(c, `${name.toUpperCase()}_PORT`), `${overlay} ${id(w)}`).toBe(String(port));
          expect(envValue(c, 'OTEL_SERVICE_NAME'), `${overlay} ${id(w)}`).toBe(name);
          expect(c.envFrom?.some((e) => e.configMapRef?.name === 'sm-nas-env'), `${overlay} ${id(w)} envFrom sm-nas-env`).toBe(true);
          const sa = w.spec.template.spec.serviceAccountName;
          expect(objs.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa), `${overlay} ${id(w)} ServiceAccount ${sa}`).toBe(true);
          const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === w.metadata.name) as
            | (K8sObject & { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } })
            | undefined;
          expect(svc, `${overlay} Service for ${id(w)}`).toBeDefined();
          expect(svc!.spec.ports.find((p) => p.name === 'grpc')).toMatchObject({ port, targetPort: 'grpc' });
          for (const [k, v] of Object.entries(svc!.spec.selector)) expect(w.spec.template.metadata.labels[k], `${overlay} Service/${svc!.metadata.name} selector ${k}`).toBe(v);
        }
      }
    }
  });

  it('share settings from sm-nas-env: NATS, OpenTelemetry and the limits', () => {
    const env = rendered.get('local')!.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sm-nas-env') as K8sObject & { data: Record<string, string> };
    expect(env.data.NATS_URL).toBe('nats://nats:4222');
    expect(env.data.OTEL_TRACES_EXPORTER).toBe('otlp');
    expect(env.data.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4317');
    for (const variable of Object.values(LIMIT_ENV)) expect(Number(env.data[variable]), variable).toBeGreaterThan(0);
  });

  it('refer only to ConfigMaps and ServiceAccounts they ship, and to the documented Secrets', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const overlay of ['local', 'cluster']) {
      const objs = rendered.get(overlay)!;
      const has = (kind: string, name: string) => objs.some((o) => o.kind === kind && o.metadata.name === name);
      for (const w of objs.filter(isWorkload)) {
        const spec = w.spec.template.spec;
        const refs = JSON.stringify(spec);
        for (const v of spec.volumes ?? []) {
          if (v.configMap) expect(has('ConfigMap', v.configMap.name), `${overlay} ${id(w)} configMap ${v.configMap.name}`).toBe(true);
          if (v.secret) expect(EXTERNAL_SECRETS.has(v.secret.secretName), `${overlay} ${id(w)} secret ${v.secret.secretName}`).toBe(true);
        }
        for (const m of refs.matchAll(/"secretKeyRef":\{"name":"([^"]+)"/g)) expect(EXTERNAL_SECRETS.has(m[1]!), `${overlay} ${id(w)} ${m[1]}`).toBe(true);
        for (const c of spec.containers) for (const e of c.envFrom ?? []) if (e.configMapRef) expect(has('ConfigMap', e.configMapRef.name)).toBe(true);
      }
    }
    for (const secret of EXTERNAL_SECRETS) expect(readme, `README explains Secret ${secret}`).toContain(secret);
  });
});

describe('policy: profilers', () => {
  it('every profiler DaemonSet selects exactly one hardware type and serves that class', () => {
    let seen = 0;
    for (const [overlay, objs] of rendered) {
      const classes = new Set<string>();
      for (const ds of profilers(objs)) {
        seen++;
        const where = `${overlay} ${id(ds)}`;
        const spec = ds.spec.template.spec;
        const c = spec.containers[0]!;
        // The class this DaemonSet serves: its pods' label, its name's suffix, unique in the render.
        const hardwareClass = ds.spec.template.metadata.labels[CPU_LABEL];
        expect(hardwareClass, `${where} pod label ${CPU_LABEL}`).toMatch(/^[a-z0-9][a-z0-9-]*$/);
        expect(ds.metadata.name, where).toBe(`profiler-${hardwareClass}`);
        expect(classes.has(hardwareClass!), `${where}: two profilers for ${hardwareClass}`).toBe(false);
        classes.add(hardwareClass!);
        // Exactly one hardware key, with one value, and no affinity that could widen it.
        const keys = Object.keys(spec.nodeSelector ?? {}).filter((k) => k === CPU_LABEL || GPU_VENDORS.some((v) => v.label === k));
        expect(keys, where).toHaveLength(1);
        expect(spec.affinity, `${where} affinity`).toBeUndefined();
        const vendor = GPU_VENDORS.find((v) => v.label === keys[0]);
        if (vendor) {
          expect(spec.nodeSelector![vendor.label], where).toMatch(/^[A-Za-z0-9][\w.-]*$/);
          // A whole GPU of the vendor it selects (a latency on a shared GPU is not the GPU's), and no other.
          expect(gpusOf(c), `${where} GPU resources`).toEqual([vendor.resource]);
          expect(Number(c.resources?.limits?.[vendor.resource]), `${where} a whole GPU`).toBe(1);
          expect(Number(c.resources?.requests?.[vendor.resource]), where).toBe(1);
          expect(spec.tolerations?.some((t) => t.key === vendor.resource), `${where} GPU toleration`).toBe(true);
          expect(c.image, where).toMatch(/profiler-gpu/);
        } else {
          expect(spec.nodeSelector![CPU_LABEL], where).toBe(hardwareClass);
          expect(gpusOf(c), `${where} a CPU profiler takes no GPU`).toEqual([]);
        }
      }
    }
    expect(seen).toBeGreaterThanOrEqual(13);
  });

  it('the GPU overlays select their GPU by the label its vendor\'s discovery sets', () => {
    const selector = (overlay: string) => profilers(rendered.get(overlay)!)[0]!.spec.template.spec.nodeSelector;
    // NVIDIA GPU Feature Discovery: the product name.
    expect(selector('profiler-nvidia-t4')).toEqual({ 'nvidia.com/gpu.product': 'Tesla-T4' });
    expect(selector('profiler-nvidia-a100')?.['nvidia.com/gpu.product']).toMatch(/^NVIDIA-A100-/);
    expect(selector('profiler-nvidia-h100')?.['nvidia.com/gpu.product']).toMatch(/^NVIDIA-H100-/);
    // AMD's node labeller: 7448 is the Radeon PRO W7900 alone in libdrm's data/amdgpu.ids.
    expect(selector('profiler-amd-radeon-pro-w7900')).toEqual({ 'amd.com/gpu.device-id': '7448' });
    // The NFD rules of intel-device-plugins-for-kubernetes (platform-labeling-rules.yaml): Flex_170 is PCI id 56c0.
    expect(selector('profiler-intel-flex-170')).toEqual({ 'gpu.intel.com/product': 'Flex_170' });
  });
});

describe('policy: cluster overlay', () => {
  const cluster = () => rendered.get('cluster')!;

  it('scales GPU trainers with KEDA on the training queue consumer lag (names from libs/bus)', () => {
    const scaled = cluster().filter((o) => o.kind === 'ScaledObject') as (K8sObject & {
      spec: { scaleTargetRef: { name: string }; triggers: { type: string; metadata: Record<string, string> }[] };
    })[];
    expect(scaled).toHaveLength(1);
    const so = scaled[0]!;
    const trainer = cluster().find((o) => o.kind === 'Deployment' && o.metadata.name === so.spec.scaleTargetRef.name) as Workload;
    expect(trainer.metadata.labels?.['app.kubernetes.io/name']).toBe('trainer');
    const c = trainer.spec.template.spec.containers[0]!;
    expect(Number(c.resources?.limits?.['nvidia.com/gpu'])).toBe(1);
    expect(c.image).toMatch(/trainer-gpu/);
    const trigger = so.spec.triggers[0]!;
    expect(trigger.type).toBe('nats-jetstream');
    expect(trigger.metadata.stream).toBe(STREAMS.trainJobs.name);
    expect(trigger.metadata.consumer).toBe(TRAINERS_DURABLE);
    expect(trigger.metadata.natsServerMonitoringEndpoint).toMatch(/^nats-headless\.sm-nas\.svc\.cluster\.local:8222$/);
  });

  it('denies all traffic by default and lets each gRPC service in from its callers only', () => {
    type Policy = K8sObject & {
      spec: {
        podSelector: { matchLabels?: Record<string, string> };
        policyTypes: string[];
        ingress?: { from?: { podSelector?: { matchLabels?: Record<string, string> } }[] }[];
      };
    };
    const policies = cluster().filter((o): o is Policy => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && p.spec.policyTypes.includes('Ingress'));
    expect(deny?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const callers = (name: string) =>
      policies
        .filter((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name)
        .flatMap((p) => p.spec.ingress ?? [])
        .flatMap((rule) => (rule.from ?? []).map((f) => f.podSelector?.matchLabels?.['app.kubernetes.io/name']));
    expect(callers('flops')).toEqual(['controller']);
    expect(callers('trainer')).toEqual(['controller']);
    expect(callers('profiler')).toEqual(['controller']);
    expect(callers('suggestion')).toEqual(['controller']);
    expect(callers('searchspace').sort()).toEqual(['controller', 'suggestion']);
    // Every pod of the cluster overlay is selected by some ingress policy besides the deny-all.
    for (const w of cluster().filter(isWorkload)) {
      const name = w.spec.template.metadata.labels['app.kubernetes.io/name'];
      expect(policies.some((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name), `${id(w)}`).toBe(true);
    }
  });

  it('runs three NATS servers with JetStream on persistent volumes', () => {
    const nats = cluster().find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats') as Workload & {
      spec: { replicas: number; volumeClaimTemplates: { metadata: { name: string } }[] };
    };
    expect(nats.spec.replicas).toBe(3);
    expect(nats.spec.volumeClaimTemplates.map((v) => v.metadata.name)).toEqual(['data']);
    expect(nats.spec.template.spec.containers[0]!.volumeMounts?.find((m) => m.name === 'data')?.mountPath).toBe('/data');
  });
});

/** nats.conf and auth.conf of an overlay's nats-config ConfigMap, written to a directory (paths moved into it). */
/** The overlay's NATS configuration written to `dir`, its paths moved there (the Secret sm-nas-tls to `tlsDir`). */
function natsConfig(overlay: string, dir: string, tlsDir = join(dir, 'tls')): string {
  const cm = rendered.get(overlay)!.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config') as K8sObject & { data: Record<string, string> };
  for (const [file, text] of Object.entries(cm.data)) {
    writeFileSync(join(dir, file), text.replaceAll('/data/jetstream', join(dir, 'js')).replaceAll('/var/run/nats/', `${dir}/`).replaceAll('/etc/nats-tls/', `${tlsDir}/`));
  }
  return join(dir, 'nats.conf');
}

/** The Secret sm-nas-tls as a pod mounts it (tls.crt, tls.key, ca.crt), from a test CA. */
function tlsSecretDir(pki: TestPki, dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tls.crt'), pki.peer.cert);
  writeFileSync(join(dir, 'tls.key'), pki.peer.key);
  writeFileSync(join(dir, 'ca.crt'), pki.ca.cert);
  return dir;
}

describe('the rendered NATS configuration, run by a real nats-server', () => {
  const dirs: string[] = [];
  let server: NatsServer | undefined;
  const env = { ...process.env, POD_NAME: 'nats-0', NATS_USER: 'sm-nas', NATS_PASSWORD: 'test-only-password-84c1' };

  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'sm-nas-k8s-nats-'));
    dirs.push(d);
    return d;
  };

  beforeAll(() => void natsServerBinary());
  afterAll(async () => {
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is valid in every overlay that ships NATS (nats-server -t)', () => {
    const pki = createTestPki();
    try {
      for (const overlay of ['local', 'cluster']) {
        const dir = tmp();
        const run = spawnSync(natsServerBinary(), ['-t', '-c', natsConfig(overlay, dir, tlsSecretDir(pki, join(dir, 'tls')))], { env, encoding: 'utf8' });
        expect(run.status, `${overlay}: ${run.stderr}${run.stdout}`).toBe(0);
      }
    } finally {
      pki.remove();
    }
  });

  it('with the tls component, speaks TLS on the client port, refuses a client without a certificate and serves the services', async () => {
    // The Secret sm-nas-tls as the pods mount it, with a test CA's certificates.
    const pki = createTestPki();
    try {
      // The cluster overlay's single-server parts (its routes need the other pods): its tls.conf
      // with the local nats.conf, on loopback ports.
      const dir = tmp();
      natsConfig('local', dir);
      const clusterDir = tmp();
      natsConfig('cluster', clusterDir, tlsSecretDir(pki, join(clusterDir, 'tls')));
      const tlsConf = readFileSync(join(clusterDir, 'tls.conf'), 'utf8');
      expect(tlsConf).toMatch(/verify: true/);
      writeFileSync(join(dir, 'tls.conf'), tlsConf);
      const monitor = await freePort();
      Object.assign(process.env, { POD_NAME: env.POD_NAME });
      let tlsServer: NatsServer;
      try {
        tlsServer = await startNatsServer({ extraArgs: ['-c', join(dir, 'nats.conf'), '-m', String(monitor)] });
      } finally {
        delete process.env.POD_NAME;
      }
      try {
        const options = { reconnect: false, maxReconnectAttempts: 0, timeout: 3000 };
        await expect(connectBus({ servers: tlsServer.url, name: 'no-cert', security: { tls: { caFile: pki.ca.certFile } }, connectOptions: options })).rejects.toThrow();
        // What a service reads from the variables the component sets (libs/service-kit loadNatsSecurity).
        const services = rendered.get('cluster')!.filter(isWorkload).filter(isSmNasService);
        expect(services.length).toBeGreaterThan(0);
        for (const w of services) {
          const c = w.spec.template.spec.containers[0]!;
          for (const [variable, file] of [['NATS_TLS_CERT_FILE', 'tls.crt'], ['NATS_TLS_KEY_FILE', 'tls.key'], ['NATS_TLS_CA_FILE', 'ca.crt']]) {
            expect(envValue(c, variable!), `${id(w)} ${variable}`).toBe(`/etc/sm-nas/tls/${file}`);
          }
        }
        const security = loadNatsSecurity({ NATS_TLS_CERT_FILE: pki.peer.certFile, NATS_TLS_KEY_FILE: pki.peer.keyFile, NATS_TLS_CA_FILE: pki.ca.certFile });
        const bus = await connectBus({ servers: tlsServer.url, name: 'service', ...(security ? { security } : {}), connectOptions: options });
        await ensurePipelineStreams(bus);
        await bus.close();
      } finally {
        await tlsServer.stop();
      }
    } finally {
      pki.remove();
    }
  });

  it('with the auth component, refuses a client without credentials and serves the Secret user', async () => {
    // The cluster overlay's single-server parts (its cluster routes need the other pods): its
    // auth.conf with the local nats.conf, on loopback ports.
    const dir = tmp();
    natsConfig('local', dir);
    const clusterDir = tmp();
    natsConfig('cluster', clusterDir);
    writeFileSync(join(dir, 'auth.conf'), readFileSync(join(clusterDir, 'auth.conf')));
    const monitor = await freePort();
    Object.assign(process.env, { POD_NAME: env.POD_NAME, NATS_USER: env.NATS_USER, NATS_PASSWORD: env.NATS_PASSWORD });
    try {
      server = await startNatsServer({ extraArgs: ['-c', join(dir, 'nats.conf'), '-m', String(monitor)] });
    } finally {
      for (const k of ['POD_NAME', 'NATS_USER', 'NATS_PASSWORD']) delete process.env[k];
    }
    const options = { reconnect: false, maxReconnectAttempts: 0 };
    await expect(connectBus({ servers: server.url, name: 'anonymous', connectOptions: options })).rejects.toThrow(/authorization violation/i);
    const bus = await connectBus({ servers: server.url, name: 'service', security: { user: env.NATS_USER, password: env.NATS_PASSWORD }, connectOptions: options });
    // The streams and the consumer exactly as the controller and the trainers create them.
    await ensurePipelineStreams(bus);
    await ensureTrainersConsumer(bus, 60_000);
    // What KEDA's scaler reads: the consumer's lag on the monitoring port.
    const jsz = (await (await fetch(`http://127.0.0.1:${monitor}/jsz?accounts=true&streams=true&consumers=true`)).json()) as {
      account_details?: { stream_detail?: { name: string; consumer_detail?: { name: string; num_pending: number }[] }[] }[];
    };
    const stream = jsz.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === STREAMS.trainJobs.name);
    expect(stream?.consumer_detail?.map((c) => c.name)).toEqual([TRAINERS_DURABLE]);
    await bus.close();
  });
});

// Rendering deploy/k8s with `kubectl kustomize` and validating what comes out against the
// Kubernetes API schemas (the kubernetes-models package, Kubernetes 1.27+ OpenAPI; KEDA's CRDs from
// @kubernetes-models/keda). Shared by the k8s tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const K8S = join(REPO, 'deploy', 'k8s');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** kubectl: $KUBECTL, the one scripts/install-kubectl.sh unpacks, or PATH's; with a clear failure otherwise. */
export function findKubectl(): string {
  const candidates = [process.env.KUBECTL, join(REPO, 'node_modules', '.cache', 'sm-nas', 'kubectl'), 'kubectl'];
  for (const candidate of candidates) {
    if (!candidate || (candidate.includes('/') && !existsSync(candidate))) continue;
    const run = spawnSync(candidate, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
    if (run.status !== 0) continue;
    const version = JSON.parse(run.stdout) as { clientVersion: { minor: string }; kustomizeVersion?: string };
    if (version.kustomizeVersion && Number.parseInt(version.clientVersion.minor, 10) >= 27) return candidate;
  }
  throw new Error(
    'no kubectl >= 1.27 with kustomize: run `bash scripts/install-kubectl.sh` (scripts/setup.sh does) or set KUBECTL',
  );
}

export function overlays(): string[] {
  return readdirSync(join(K8S, 'overlays'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(K8S, 'overlays', d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();
}

export function render(kubectl: string, dir: string): K8sObject[] {
  const out = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(out)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

interface Model {
  new (data: unknown): { validate(): void };
}

/** The kubernetes-models class for an object's apiVersion and kind, or undefined when none exists. */
export async function modelFor(apiVersion: string, kind: string): Promise<Model | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const path = group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}/${kind}` : `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
  try {
    const mod = (await import(path)) as Record<string, Model>;
    return mod[kind];
  } catch {
    return undefined;
  }
}

export type Workload = K8sObject & {
  spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};

export interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface Probe {
  grpc?: { port: number };
  httpGet?: { port: number | string };
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type: string };
}

export interface PodSpec {
  serviceAccountName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: unknown;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  securityContext?: SecurityContext;
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

export function isWorkload(o: K8sObject): o is Workload {
  return WORKLOAD_KINDS.has(o.kind);
}

export function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

// Workload checks of `doctor` (docs/architecture.md, Doctor): every container and init-container reference of the
// --workload files and of the live pods of --namespace is compared with what the image holds (its record): an exact
// hit, a floating tag whose digest moved since the build (the registry is asked for its digest now), or a reference
// not on the disk — the cache only serves the reference it holds. On Autopilot, each pod must also ask for nodes with
// the disk by the node selector GKE labels them with.
import { parseImageReference, type ImageReference } from '../../config/reference.js';
import { checkImage } from '../../registry/resolve.js';
import type { ImageRegistry } from '../../registry/client.js';
import type { KubeApi, ContainerSpec } from '../../k8s/api.js';
import type { ClusterInfo } from '../../gcp/gke.js';
import { diskKindOfRecord, type ImageRecord } from '../../builder/image-record.js';
import type { DoctorPlan } from './plan.js';
import { nodeSelectorFor, type CheckLine, type DoctorFacts } from './checks.js';
import { shellLine } from './shell.js';

/** One pod spec to check: where it comes from, and what it runs. */
export interface PodSpecSource {
  /** e.g. `deploy.yaml: Deployment/web` or `pod default/web-5d8f` */
  where: string;
  kind: string;
  name: string;
  namespace: string;
  containers: ContainerSpec[];
  initContainers: ContainerSpec[];
  nodeSelector: Record<string, string>;
  /** Where the pod template sits, for `kubectl patch` (undefined: a pod, which cannot be patched so). */
  templatePath?: string[];
}

const TEMPLATE_PATHS: Record<string, string[]> = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  Pod: ['spec'],
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

function containersOf(v: unknown): ContainerSpec[] {
  return Array.isArray(v)
    ? v
        .filter(isObj)
        .flatMap((c) => (typeof c.image === 'string' ? [{ name: typeof c.name === 'string' ? c.name : '', image: c.image }] : []))
    : [];
}

/** The pod specs of a Kubernetes YAML text (several documents, `List`s included); problems for what cannot be read. */
export async function podSpecsOfYaml(path: string, text: string): Promise<{ specs: PodSpecSource[]; problems: string[] }> {
  const { parseAllDocuments } = await import('yaml');
  const specs: PodSpecSource[] = [];
  const problems: string[] = [];
  const visit = (o: unknown) => {
    if (!isObj(o)) return;
    if (o.kind === 'List' && Array.isArray(o.items)) return o.items.forEach(visit);
    const kind = typeof o.kind === 'string' ? o.kind : '';
    const at = TEMPLATE_PATHS[kind];
    if (!at) return;
    const meta = isObj(o.metadata) ? o.metadata : {};
    const name = typeof meta.name === 'string' ? meta.name : '(unnamed)';
    let spec: unknown = o;
    for (const k of at) spec = isObj(spec) ? spec[k] : undefined;
    if (!isObj(spec)) return void problems.push(`${path}: ${kind}/${name} has no pod spec at ${at.join('.')}`);
    specs.push({
      where: `${path}: ${kind}/${name}`,
      kind,
      name,
      namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
      containers: containersOf(spec.containers),
      initContainers: containersOf(spec.initContainers),
      nodeSelector: isObj(spec.nodeSelector) ? Object.fromEntries(Object.entries(spec.nodeSelector).map(([k, v]) => [k, String(v)])) : {},
      ...(kind === 'Pod' ? {} : { templatePath: at }),
    });
  };
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length) {
      problems.push(`${path}: not valid YAML (${doc.errors[0]!.message.split('\n')[0]})`);
      continue;
    }
    visit(doc.toJS());
  }
  return { specs, problems };
}

/** registry/repository as containerd names it (`nginx` → `docker.io/library/nginx`). */
function nameOf(r: ImageReference): string {
  const repo = r.registry === 'docker.io' && !r.repository.includes('/') ? `library/${r.repository}` : r.repository;
  return `${r.registry}/${repo}`;
}

/** A pod's reference parsed as the kubelet reads it (no tag and no digest: `latest`). */
function parsePodRef(ref: string): ImageReference | undefined {
  const p = parseImageReference(ref);
  if (typeof p !== 'string') return p;
  const q = parseImageReference(`${ref}:latest`);
  return typeof q === 'string' ? undefined : q;
}

export interface RefVerdict {
  status: 'pass' | 'fail' | 'unknown';
  seen: string;
  /** The reference on the disk to pin instead (tag moved). */
  pin?: string;
}

/** Whether the disk holds `ref` as a pod asks for it; `currentDigest` resolves a tag's digest now. */
export async function judgeReference(
  ref: string,
  record: ImageRecord,
  currentDigest: (ref: string) => Promise<string | undefined>,
): Promise<RefVerdict> {
  const want = parsePodRef(ref);
  if (!want) return { status: 'fail', seen: `${ref} is not a valid image reference` };
  const held = Object.entries(record.images ?? {}).flatMap(([r, d]) => {
    const p = parsePodRef(r);
    return p ? [{ ref: r, parsed: p, digest: d }] : [];
  });
  const sameName = held.filter((h) => nameOf(h.parsed) === nameOf(want));
  if (want.digest) {
    const hit = sameName.find((h) => h.parsed.digest === want.digest || h.digest === want.digest);
    if (hit) return { status: 'pass', seen: `${ref} is on the disk (as ${hit.ref})` };
    return {
      status: 'fail',
      seen: `${ref} is not on the disk${sameName.length ? ` (it holds ${sameName.map((h) => h.ref).join(', ')})` : ''}: pulled or streamed, not cached`,
    };
  }
  const same = sameName.find((h) => h.parsed.tag === want.tag && !h.parsed.digest);
  if (!same)
    return {
      status: 'fail',
      seen: `${ref} is not on the disk${sameName.length ? ` (it holds ${sameName.map((h) => h.ref).join(', ')})` : ''}: pulled or streamed, not cached`,
    };
  if (!same.digest) return { status: 'unknown', seen: `${ref} is on the disk, but its digest was not resolved when the image was built` };
  let now: string | undefined;
  try {
    now = await currentDigest(ref);
  } catch {
    now = undefined;
  }
  if (!now)
    return {
      status: 'unknown',
      seen: `${ref} is on the disk as ${same.digest}, but its digest now could not be resolved from this machine`,
    };
  if (now === same.digest) return { status: 'pass', seen: `${ref} is on the disk, and the tag still points at ${same.digest}` };
  return {
    status: 'fail',
    seen: `${ref} moved since the build: the disk holds ${same.digest}, the tag now points at ${now}: nodes pull the new one`,
    pin: `${nameOf(want).replace(/^docker\.io\/library\//, '')}@${same.digest}`,
  };
}

export interface WorkloadCloud {
  kube(cluster: ClusterInfo): Promise<KubeApi>;
  registry: ImageRegistry;
}

export async function workloadLines(cloud: WorkloadCloud, plan: DoctorPlan, facts: DoctorFacts, signal: AbortSignal): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const specs: PodSpecSource[] = [];
  for (const w of plan.workloads) {
    const r = await podSpecsOfYaml(w.path, w.text);
    specs.push(...r.specs);
    for (const p of r.problems) lines.push({ check: 'workload', status: 'fail', seen: p });
    if (!r.specs.length && !r.problems.length)
      lines.push({ check: 'workload', status: 'warn', seen: `${w.path}: no Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod` });
  }
  if (plan.namespace) {
    if (!facts.cluster)
      lines.push({ check: 'workload', status: 'unknown', seen: `cannot read the pods of ${plan.namespace}: the cluster was not read` });
    else {
      try {
        const pods = await (await cloud.kube(facts.cluster)).listPods(plan.namespace, signal);
        if (!pods.length) lines.push({ check: 'workload', status: 'warn', seen: `no pods in namespace ${plan.namespace}` });
        for (const p of pods)
          specs.push({
            where: `pod ${p.namespace}/${p.name}`,
            kind: 'Pod',
            name: p.name,
            namespace: p.namespace,
            containers: p.containers,
            initContainers: p.initContainers,
            nodeSelector: p.nodeSelector,
          });
      } catch (err) {
        lines.push({
          check: 'workload',
          status: 'unknown',
          seen: `cannot read the pods of namespace ${plan.namespace}: ${(err as Error).message}`,
        });
      }
    }
  }
  const image = plan.image!;
  const record = facts.record;
  if (!record) {
    if (specs.length)
      lines.push({
        check: 'workload',
        status: 'unknown',
        seen: `${image.path} has no record of what it holds: its references cannot be compared`,
      });
    return lines;
  }
  if (diskKindOfRecord(record) === 'data') {
    lines.push({
      check: 'workload',
      status: 'warn',
      seen: `${image.path} is a data disk: it holds files, not container images, so the workloads' references are not compared with it`,
    });
    return lines;
  }
  if (!record.images) {
    lines.push({
      check: 'workload',
      status: 'unknown',
      seen: `${image.path} records only a checksum of its ${record.count} references (the list did not fit its description): they cannot be compared`,
    });
    return lines;
  }
  const digests = new Map<string, Promise<string | undefined>>();
  const currentDigest = (ref: string) => {
    let d = digests.get(ref);
    if (!d) {
      d = checkImage(ref, record.platform, cloud.registry, signal).then((c) => c.digest);
      digests.set(ref, d);
    }
    return d;
  };
  const selector = nodeSelectorFor(image);
  for (const s of specs) {
    for (const [list, label] of [
      [s.initContainers, 'init container'],
      [s.containers, 'container'],
    ] as const) {
      for (const c of list) {
        const v = await judgeReference(c.image, record, currentDigest);
        const pinFix =
          v.pin && s.templatePath
            ? shellLine([
                'kubectl',
                'set',
                'image',
                `${s.kind.toLowerCase()}/${s.name}`,
                `${c.name}=${v.pin}`,
                `--namespace=${s.namespace}`,
              ])
            : undefined;
        lines.push({
          check: 'workload',
          status: v.status,
          seen: `${s.where} ${label} ${c.name}: ${v.seen}${v.pin && !pinFix ? ` (pin ${v.pin}, or rebuild the image)` : ''}`,
          ...(pinFix ? { fix: pinFix } : {}),
        });
      }
    }
    if (facts.needsNodeSelector) {
      const ok = s.nodeSelector[selector.key] === selector.value;
      const patch = s.templatePath
        ? shellLine([
            'kubectl',
            'patch',
            s.kind.toLowerCase(),
            s.name,
            `--namespace=${s.namespace}`,
            '--type=merge',
            `--patch=${JSON.stringify(nest(s.templatePath.slice(0, -1), { spec: { nodeSelector: { [selector.key]: selector.value } } }))}`,
          ])
        : undefined;
      lines.push({
        check: 'node-selector',
        status: ok ? 'pass' : 'fail',
        seen: ok
          ? `${s.where} asks for nodes with the disk`
          : `${s.where} lacks the node selector ${selector.key}: ${selector.value}: Autopilot does not put it on nodes with the disk`,
        ...(!ok && patch ? { fix: patch } : {}),
      });
    }
  }
  return lines;
}

/** `['spec', 'template']`, leaf → `{spec: {template: leaf}}`. */
function nest(path: readonly string[], leaf: object): object {
  return path.reduceRight<object>((acc, k) => ({ [k]: acc }), leaf);
}

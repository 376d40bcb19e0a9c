/**
 * What a VM does once its instance is RUNNING — decided by the test.
 *
 * A behaviour is a hook run with a VmContext (the instance as the guest sees it, its serial
 * console, its guest attributes, an AbortSignal aborted when the instance is deleted or the
 * emulator closes). `script()` turns a list of timed steps into such a hook; `onStart()` takes
 * any hook — e.g. one that runs the real startup script against a local metadata server.
 * The most recently registered behaviour that matches the instance wins; with none, the VM
 * plays a successful run (vm-scripts.ts). A scripted run's status lines echo the run's status nonce
 * (`gdib-status-nonce`), as the agent does; a hook's `appendSerial` writes its text as is. Guest attribute writes are dropped unless the
 * instance's metadata has `enable-guest-attributes=TRUE`, as on GCE.
 */
import type { ErrorSpec } from './errors.js';
import type { EmulatorState, Instance, MetadataItem } from './state.js';
import { sleep } from './server.js';
import { echoNonce, vmScripts, type VmStep } from './vm-scripts.js';

export interface VmInstanceView {
  project: string;
  zone: string;
  name: string;
  machineType: string;
  labels: Record<string, string>;
  /** Metadata as a map (last item wins), and as the items given. */
  metadata: Record<string, string>;
  metadataItems: MetadataItem[];
  disks: Array<{ deviceName: string; diskName: string; boot: boolean; sizeGb?: number; sourceImage?: string; content?: unknown }>;
}

export interface VmContext {
  instance: VmInstanceView;
  appendSerial(text: string): void;
  /** `namespace/key` (e.g. `gdib/state`) → value. */
  setAttribute(key: string, value: string): void;
  /** Record what an attached disk now holds (see `Disk.content`): it follows the disk into images made from it. */
  setDiskContent(deviceName: string, content: unknown): void;
  /** Resolves true after `ms`, or false as soon as the VM stops. */
  sleep(ms: number): Promise<boolean>;
  /** GCE preempts this (Spot) VM now, as `VmController.preempt` does; throws for a VM GCE would not preempt. */
  preempt(): void;
  signal: AbortSignal;
}

export type VmHook = (ctx: VmContext) => void | Promise<void>;

/** A disk or an image that holds (or is about to hold) a disk content. */
export interface DiskContentHolder {
  kind: 'disk' | 'image';
  project: string;
  /** Disks only. */
  zone?: string;
  name: string;
}

/**
 * How disk contents travel (see `Disk.content`). Without a handler the value is shared as is by every disk and
 * image made from it; a handler can give each holder its own copy (e.g. copy the file behind a loop device) and
 * free it when the holder is deleted.
 */
export interface DiskContentHandler {
  /** The content of a new disk or image `to` made from `from`, which holds `content`. */
  copy?(content: unknown, to: DiskContentHolder, from: DiskContentHolder): unknown;
  /** `from` (a disk or an image holding `content`) was deleted. */
  release?(content: unknown, from: DiskContentHolder): void;
}

export interface VmBehaviourOptions {
  /** Which instances this applies to (default: all). */
  match?: (instance: VmInstanceView) => boolean;
  /** How many VMs it applies to before it is used up (default: unlimited). */
  times?: number;
  /** `'unavailable'` (a 403 for getGuestAttributes) or a specific error: the CLI must use the serial console. */
  guestAttributes?: 'available' | 'unavailable' | ErrorSpec;
}

interface Behaviour {
  hook: VmHook;
  options: VmBehaviourOptions;
  remaining: number;
}

export class VmController {
  private behaviours: Behaviour[] = [];
  private preempter?: (instance: Instance) => void;
  private contentHandlers: DiskContentHandler[] = [];
  /** Names of the instances whose VM started, in order. */
  readonly started: string[] = [];

  constructor(
    private readonly state: EmulatorState,
    private readonly stepMs: number,
  ) {}

  script(steps: VmStep[], options: VmBehaviourOptions = {}): () => void {
    return this.onStart((ctx) => runSteps(ctx, steps), options);
  }

  onStart(hook: VmHook, options: VmBehaviourOptions = {}): () => void {
    const behaviour: Behaviour = { hook, options, remaining: options.times ?? Infinity };
    this.behaviours.push(behaviour);
    return () => {
      this.behaviours = this.behaviours.filter((b) => b !== behaviour);
    };
  }

  /** Set by the instances routes: how an instance is preempted. */
  onPreempt(preempter: (instance: Instance) => void): void {
    this.preempter = preempter;
  }

  /**
   * GCE preempts the Spot VM `name` now (SPEC.md, Preemption): a compute.instances.preempted operation, and the
   * instance stopped or deleted by its instanceTerminationAction.
   */
  preempt(name: string, where: { project?: string; zone?: string } = {}): void {
    const instance = [...this.state.instances.values()].find(
      (i) => i.name === name && (!where.project || i.project === where.project) && (!where.zone || i.zone === where.zone),
    );
    if (!instance) throw new Error(`no instance ${name}`);
    if (!this.preempter) throw new Error('no instances routes registered');
    this.preempter(instance);
  }

  reset(): void {
    this.behaviours = [];
  }

  /** Installs a disk content handler (several are applied in the order installed); answers its removal. */
  onDiskContent(handler: DiskContentHandler): () => void {
    this.contentHandlers.push(handler);
    return () => {
      this.contentHandlers = this.contentHandlers.filter((h) => h !== handler);
    };
  }

  /** Called when a disk or image is made from one that has a content: what the new one holds. */
  copyContent(content: unknown, to: DiskContentHolder, from: DiskContentHolder): unknown {
    let value = content;
    for (const h of this.contentHandlers) if (h.copy && value !== undefined) value = h.copy(value, to, from);
    return value;
  }

  /** Called when a disk or image that has a content is deleted. */
  releaseContent(content: unknown, from: DiskContentHolder): void {
    if (content === undefined) return;
    for (const h of this.contentHandlers) h.release?.(content, from);
  }

  /** Called by the instances handler when an instance becomes RUNNING. */
  start(instance: Instance): void {
    const view = this.view(instance);
    const chosen = [...this.behaviours].reverse().find((b) => b.remaining > 0 && (b.options.match?.(view) ?? true));
    if (chosen) chosen.remaining -= 1;
    const ga = chosen?.options.guestAttributes;
    if (ga === 'unavailable') {
      instance.guestAttributesError = {
        status: 403,
        reason: 'forbidden',
        message: `Required 'compute.instances.getGuestAttributes' permission for 'projects/${instance.project}/zones/${instance.zone}/instances/${instance.name}'`,
      };
    } else if (ga && ga !== 'available') {
      instance.guestAttributesError = ga;
    }
    const hook =
      chosen?.hook ?? ((ctx: VmContext) => runSteps(ctx, vmScripts.succeed({ mode: view.metadata['gdib-mode'], stepMs: this.stepMs })));
    this.started.push(instance.name);
    const signal = instance.vm.signal;
    const guestAttributesOn = (view.metadata['enable-guest-attributes'] ?? '').toUpperCase() === 'TRUE';
    const ctx: VmContext = {
      instance: view,
      signal,
      appendSerial: (text) => {
        if (!signal.aborted) instance.serial.append(text);
      },
      setAttribute: (key, value) => {
        if (!signal.aborted && guestAttributesOn) instance.guestAttributes.set(key, value);
      },
      setDiskContent: (deviceName, content) => {
        const attached = instance.disks.find((d) => d.deviceName === deviceName);
        const disk = attached && this.state.disk(instance.project, instance.zone, attached.diskName);
        if (!disk) throw new Error(`no disk attached as '${deviceName}'`);
        disk.content = content;
      },
      sleep: async (ms) => {
        await sleep(ms, signal);
        return !signal.aborted;
      },
      preempt: () => {
        if (!this.preempter) throw new Error('no instances routes registered');
        this.preempter(instance);
      },
    };
    Promise.resolve()
      .then(() => hook(ctx))
      .catch((err: unknown) => {
        if (!signal.aborted) ctx.appendSerial(`emulator: VM behaviour failed: ${String(err)}\n`);
      });
  }

  private view(instance: Instance): VmInstanceView {
    return {
      project: instance.project,
      zone: instance.zone,
      name: instance.name,
      machineType: instance.machineType,
      labels: { ...instance.labels },
      metadata: Object.fromEntries(instance.metadataItems.map((i) => [i.key, i.value])),
      metadataItems: instance.metadataItems.map((i) => ({ ...i })),
      disks: instance.disks.map((d) => {
        const disk = this.state.disk(instance.project, instance.zone, d.diskName);
        return {
          deviceName: d.deviceName,
          diskName: d.diskName,
          boot: d.boot,
          ...(disk ? { sizeGb: disk.sizeGb } : {}),
          ...(disk?.sourceImage ? { sourceImage: disk.sourceImage } : {}),
          ...(disk?.content !== undefined ? { content: disk.content } : {}),
        };
      }),
    };
  }
}

async function runSteps(ctx: VmContext, steps: VmStep[]): Promise<void> {
  for (const step of steps) {
    if (!(await ctx.sleep(step.afterMs ?? 0))) return;
    if (step.serial !== undefined) ctx.appendSerial(echoNonce(step.serial, ctx.instance.metadata['gdib-status-nonce']));
    for (const [key, value] of Object.entries(step.attributes ?? {})) ctx.setAttribute(key, value);
    if (step.preempt) return ctx.preempt();
  }
}

// What a build or verify prints once it has ended (docs/architecture.md, Handlers and the host): the error with the
// VM's last console lines, an image kept, what could not be deleted, the success line on stdout and the next steps.
// The events before it are drawn by render.ts.
import type { BuildResult } from '../builder/events.js';
import type { RunPlan } from '../config/types.js';
import { exitCodeOf } from '../errors.js';
import type { TextSink } from './render.js';

export interface ResultSinks {
  out: TextSink;
  err: TextSink;
}

/** Prints the end of a run (its result, or its error) and returns the exit code. */
export function writeRunResult(
  plan: RunPlan,
  ended: { result: BuildResult; error?: Error },
  sinks: ResultSinks,
  output: { json: boolean; quiet: boolean },
): number {
  const { out, err } = sinks;
  const { result, error } = ended;
  if (error) {
    err.write(`error: ${error.message}\n`);
    const tail = result.error?.consoleTail;
    if (tail) {
      err.write(
        tail.length === 0
          ? `The VM's serial console had no output (${result.logs}serial-port-1.log).\n`
          : `The VM's serial console, last ${tail.length} lines (all of it: ${result.logs}serial-port-1.log):\n`,
      );
      for (const l of tail) err.write(`  ${l}\n`);
    }
    if (result.image?.created) imageKept(result.image.uri, result, sinks, output.json);
    if (result.leftovers.length > 0)
      err.write(`${result.leftovers.length} temporary resource(s) could not be deleted; see the commands above.\n`);
    return exitCodeOf(error);
  }
  if (result.leftovers.length > 0) {
    err.write(
      `warning: the image is fine, but ${result.leftovers.length} temporary resource(s) could not be deleted and cost money until you run:\n`,
    );
    for (const l of result.leftovers) err.write(`  ${l.command}\n`);
  }
  if (output.json) return 0; // the result event was the last line on stdout
  out.write(`${successText(plan, result)}\n`);
  if (result.k8sManifests) err.write(`Kubernetes manifests written to ${result.k8sManifests}\n`);
  if (result.next && !output.quiet) writeNextSteps(result.next, err);
  return 0;
}

const imageUri = (project: string, image: string) => `projects/${project}/global/images/${image}`;

/** What stdout says when a run succeeded, for each kind of run. */
export function successText(plan: RunPlan, result: BuildResult): string {
  switch (plan.kind) {
    case 'dry-run':
      return JSON.stringify(result.plan ?? [], null, 2);
    case 'vm-build':
    case 'local-build':
      if (result.state === 'unchanged' && result.image)
        return `up to date: ${result.image.uri} already holds ${result.data ? 'these files' : 'these images'}${result.imageCreatedAt ? ` (built ${result.imageCreatedAt})` : ''}`;
      // The first line is the Go tool's; an incremental build says on a line of its own where it started from.
      return `Image has successfully been created at: ${imageUri(plan.projectName, plan.imageName)}${result.base ? `\nBuilt incrementally from: ${result.base}` : ''}`;
    case 'vm-verify':
      return `Image verification succeeded: ${imageUri(plan.projectName, plan.imageName)}`;
    case 'local-archive':
      return `Disk image archive written to: ${plan.archivePath}`;
    case 'local-verify':
      return `Disk verification succeeded: ${plan.file}`;
  }
}

/** The next steps after a build: a node pool, doctor, Terraform, Autopilot, prune (src/builder/next-steps.ts). */
function writeNextSteps(next: NonNullable<BuildResult['next']>, err: TextSink): void {
  if ('disk' in next) return writeDataNextSteps(next, err);
  err.write(`\nNext: a node pool whose nodes get the images preloaded:\n\n${next.gcloud}\n\n`);
  err.write(
    `Then check that it will work (versions, image streaming, IAM, allowlists; add --workload=FILE for your pods):\n\n${next.doctor}\n\n`,
  );
  err.write(`Terraform (google_container_node_pool):\n\n${next.terraform}\n\n`);
  err.write(
    `Autopilot: allow images of this project as secondary boot disks with this GCPResourceAllowlist:\n\n${next.autopilotAllowlist}\n\n`,
  );
  err.write(
    `and put this nodeSelector in the pod spec, so that the pods run on nodes that have the disk:\n\n${next.autopilotNodeSelector}\n`,
  );
  err.write(
    `\nOld images of the family pile up (GCE never deletes one): see what prune would deprecate, keeping every image a cluster uses:\n\n${next.prune}\n`,
  );
}

/** After a data disk: the node pool (no mode), doctor, Terraform, and the two ways a pod reads the disk. */
function writeDataNextSteps(next: Extract<NonNullable<BuildResult['next']>, { disk: 'data' }>, err: TextSink): void {
  err.write(`\nNext: a node pool whose nodes get the data disk, mounted read-only on every node:\n\n${next.gcloud}\n\n`);
  err.write(`Then check that it will work:\n\n${next.doctor}\n\n`);
  err.write(`Terraform (google_container_node_pool):\n\n${next.terraform}\n\n`);
  err.write(`A pod reads the files through a read-only hostPath volume (Standard clusters):\n\n${next.podHostPath}\n\n`);
  err.write(
    `Autopilot refuses most hostPath volumes: restore the image as a ReadOnlyMany volume instead (--k8s-manifests-filepath writes the VolumeSnapshotClass, VolumeSnapshotContent, VolumeSnapshot and PersistentVolumeClaim), and mount the claim:\n\n${next.podClaim}\n`,
  );
  err.write(`\nOld images of the family pile up (GCE never deletes one): see what prune would deprecate:\n\n${next.prune}\n`);
}

/**
 * The run failed or was interrupted after its image was created: the image exists and was kept, so the user must
 * not rebuild it. What may be missing is the manifests file, and the result carries its contents instead: printed
 * on stdout (the results' stream) for the user to save; with --json it is in the result event.
 */
function imageKept(uri: string, result: BuildResult, sinks: ResultSinks, json: boolean): void {
  const { out, err } = sinks;
  err.write(`The image was created and is kept (it was not deleted): ${uri}\n`);
  const unwritten = result.unwrittenK8sManifests;
  if (!unwritten) return;
  err.write(
    `The Kubernetes manifests were not written to ${unwritten.path}; the image needs no rebuild. ` +
      (json
        ? 'Their contents are in the result (unwrittenK8sManifests.contents): save them elsewhere.\n'
        : 'They are printed on stdout: save them elsewhere (or pipe them to kubectl apply -f -).\n'),
  );
  if (!json) out.write(unwritten.contents);
}

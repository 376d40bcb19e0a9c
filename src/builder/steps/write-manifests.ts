import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { k8sManifests } from '../../k8s/manifests.js';
import type { Step } from './step.js';

export const writeManifests: Step = {
  name: 'write-manifests',
  title: 'Writing the Kubernetes manifests',
  async run(ctx) {
    const path = ctx.config.k8sManifestsFilepath;
    if (!path) return;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, k8sManifests(ctx.config.projectName, ctx.config.imageName, ctx.config.k8sNamespace));
    ctx.state.k8sManifests = path;
  },
};

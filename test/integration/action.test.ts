// The GitHub Action's step script, run for real against the emulator with the npm package this checkout builds (run
// by npx, as on a runner: no npm ci): inputs become separate arguments (a hostile line stays one argument, never
// shell code), the outputs are set, the exit code is the tool's.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { useEmulator } from './harness.js';
import { packedTarball } from '../helpers/packed.js';

function runAction(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('bash', ['scripts/action-run.sh'], {
      env: { ...process.env, GDIB_ACTION_PACKAGE: packedTarball(), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => done({ code, stderr }));
  });
}

describe('GitHub Action', () => {
  const h = useEmulator();

  it('action.yml passes inputs through the environment only', () => {
    const action = parse(readFileSync('action.yml', 'utf8'));
    const step = action.runs.steps.find((s: { id?: string }) => s.id === 'build');
    expect(step.run).not.toContain('${{');
    expect(step.env).toEqual({
      INPUT_CONFIG: '${{ inputs.config }}',
      INPUT_ARGS: '${{ inputs.args }}',
      INPUT_DEPRECATE_AFTER: '${{ inputs.deprecate-after }}',
      INPUT_OBSOLETE_AFTER: '${{ inputs.obsolete-after }}',
      INPUT_DELETE_AFTER: '${{ inputs.delete-after }}',
    });
    // Every input reaches the step (an input nobody passes on would be silently ignored).
    for (const input of Object.keys(action.inputs)) expect(Object.values(step.env)).toContain(`\${{ inputs.${input} }}`);
  });

  it('runs on a supported Node with the current setup-node, and installs nothing itself', () => {
    const action = parse(readFileSync('action.yml', 'utf8'));
    const setup = action.runs.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/setup-node@'));
    expect(setup).toEqual({ uses: 'actions/setup-node@v6', with: { 'node-version': 24 } });
    const script = readFileSync('scripts/action-run.sh', 'utf8').replace(/^\s*#.*$/gm, '');
    expect(script).not.toMatch(/npm (ci|install)|npm run build/);
    expect(script).toContain('--package="$package"');
  });

  it('builds from a config file plus argument lines and sets the outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-action-'));
    writeFileSync(
      join(dir, 'build.yaml'),
      'project-name: test-project\nzone: us-central1-a\ngcs-path: gs://test-bucket/ci\ncontainer-image: [nginx:1]\nskip-image-check: true\n',
    );
    const marker = join(dir, 'pwned');
    const r = await runAction({
      ...h.env,
      GITHUB_ACTION_PATH: resolve('.'),
      GITHUB_OUTPUT: join(dir, 'out'),
      RUNNER_TEMP: dir,
      INPUT_CONFIG: join(dir, 'build.yaml'),
      INPUT_ARGS: `  --image-name=from-action  \n\n--image-labels=ci=yes\n`,
    });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const outputs = readFileSync(join(dir, 'out'), 'utf8');
    expect(outputs).toContain('image=projects/test-project/global/images/from-action\n');
    const result = JSON.parse(readFileSync(join(dir, 'gke-disk-image-builder-result.json'), 'utf8'));
    expect(result).toMatchObject({ state: 'succeeded', image: { name: 'from-action' } });
    expect(existsSync(marker)).toBe(false);
  });

  it('the lifetime inputs become flags: the image gets its deprecation times', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-action-'));
    const r = await runAction({
      ...h.env,
      GITHUB_ACTION_PATH: resolve('.'),
      GITHUB_OUTPUT: join(dir, 'out'),
      RUNNER_TEMP: dir,
      INPUT_ARGS:
        '--project-name=test-project\n--zone=us-central1-a\n--gcs-path=gs://test-bucket/ci\n--container-image=nginx:1\n--skip-image-check\n--image-name=life-action',
      INPUT_DEPRECATE_AFTER: '30d',
      INPUT_DELETE_AFTER: '90d',
    });
    expect(r.code).toBe(0);
    const image = h.emu.state.images.get('test-project/life-action');
    expect(image?.deprecated).toMatchObject({ state: 'ACTIVE', deprecated: expect.any(String), deleted: expect.any(String) });
    expect(image?.deprecated?.obsolete).toBeUndefined();
  });

  it('a hostile argument line is one argument, rejected by validation, never run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-action-'));
    const marker = join(dir, 'pwned');
    const r = await runAction({
      ...h.env,
      GITHUB_ACTION_PATH: resolve('.'),
      GITHUB_OUTPUT: join(dir, 'out'),
      RUNNER_TEMP: dir,
      INPUT_ARGS: `--image-name=$(touch ${marker})\n--zone=\`touch ${marker}\``,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --image-name:');
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toContain('image=\n');
    expect(h.emu.requests.length).toBe(0);
  });
});

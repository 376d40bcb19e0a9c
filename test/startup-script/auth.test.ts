// Image pull auth through the rig's token registry: it accepts user `oauth2accesstoken` with the one
// token the fake metadata server handed out last, so a pull only works with a freshly fetched token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopDisk } from '../rig/disk.js';
import { filesContaining } from '../rig/inspect.js';
import { randomToken } from '../rig/metadata-server.js';
import { describeRig, GOOGLE_HOSTS, PRIVATE_REPO, startRig, type Rig } from '../rig/rig.js';
import { runVmScript, type ScriptRun } from '../rig/run-script.js';
import type { ImagePullAuth } from '../../src/startup-script/render.js';

describeRig('image pull auth', () => {
  let rig: Rig;
  const disks: LoopDisk[] = [];

  beforeAll(async () => {
    rig = await startRig('auth');
  });

  afterAll(async () => {
    for (const d of disks) await d.detach();
    await rig?.close();
  });

  async function build(name: string, auth: ImagePullAuth, images: string[]): Promise<{ res: ScriptRun; disk: LoopDisk }> {
    const disk = await LoopDisk.create(join(rig.dir, `${name}.img`), 64);
    disks.push(disk);
    const res = await runVmScript({
      input: {
        mode: 'build',
        runId: 'auth01',
        containerImages: images,
        imagePullAuth: auth,
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      device: disk.device,
      dir: rig.runDir(name),
      hostsDir: rig.hostsDir,
      // One image at a time: the token registry accepts only the token handed out last (an older one is refused, as
      // if expired), which two overlapping pulls cannot both hold. Parallel pulls with tokens: parallel.test.ts.
      agentOptions: { pullJobs: 1 },
      metadata: {
        // Each token handed out replaces the previous one at the registry, as if it had expired.
        issueToken: async () => {
          const token = randomToken();
          await rig.token.setToken(token);
          return token;
        },
      },
    });
    return { res, disk };
  }

  /** Every place a token must never be: output, guest attributes, logs and scratch files, the disk. */
  function expectNoToken(res: ScriptRun, disk: LoopDisk): void {
    const tokens = res.metadata.tokens;
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) {
      expect(res.stdout).not.toContain(t);
      expect(res.stderr).not.toContain(t);
      for (const a of res.metadata.attributeLog) expect(a.value).not.toContain(t);
    }
    expect(filesContaining(res.workDir, tokens)).toEqual([]);
    const raw = readFileSync(disk.file);
    for (const t of tokens) expect(raw.includes(t)).toBe(false);
  }

  describe('ServiceAccountToken', () => {
    let res: ScriptRun;
    let disk: LoopDisk;
    beforeAll(async () => {
      ({ res, disk } = await build('sa-token', 'ServiceAccountToken', [rig.privateRef('app'), rig.privateRef('app2')]));
    });

    it('pulls private images with a fresh token for each image', () => {
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.metadata.guestAttributes.get('gdib/state')).toBe('succeeded');
      expect(res.metadata.tokens).toHaveLength(2);
      expect(new Set(res.metadata.tokens).size).toBe(2);
    });

    it('never writes the token anywhere', async () => {
      expectNoToken(res, disk);
      await disk.detach();
    });
  });

  describe('Auto', () => {
    let res: ScriptRun;
    let disk: LoopDisk;
    beforeAll(async () => {
      // gcr.io and us-docker.pkg.dev reach the token registry through the rig's hosts dir.
      ({ res, disk } = await build('auto', 'Auto', [
        `${GOOGLE_HOSTS[0]}/${PRIVATE_REPO}:app`,
        `${GOOGLE_HOSTS[1]}/${PRIVATE_REPO}:app2`,
        rig.ref('base'),
      ]));
    });

    it('sends a token to Google registries only', () => {
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.metadata.tokens).toHaveLength(2);
      expect(res.stdout).toMatch(/pulling 1\/3 gcr\.io\/.* with a fresh service-account token/);
      expect(res.stdout).toMatch(/pulling 2\/3 us-docker\.pkg\.dev\/.* with a fresh service-account token/);
      expect(res.stdout).toMatch(/pulling 3\/3 127\.0\.0\.1:\d+\/rig\/img:base\n/);
    });

    it('never writes the token anywhere', async () => {
      expectNoToken(res, disk);
      await disk.detach();
    });
  });
});

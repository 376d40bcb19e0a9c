// Pulling's logic, without containerd: references, what ctr's output says, the reason of a failure, and the
// scheduling of parallel pulls (list order, the first alone, the first failure stops the others).
import { describe, expect, it } from 'vitest';
import { Fail, Step } from '../../../src/vm/agent/errors.js';
import type { Ctx } from '../../../src/vm/agent/context.js';
import { secretForms } from '../../../src/io/redact.js';
import { hostsWithProxies, isGoogleRegistry, parseHostsToml, Scrubber } from '../../../src/vm/agent/credentials.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chooseJobs,
  fetchedDigest,
  keepCtrLine,
  pullBytes,
  normalizeRef,
  parsePullOutput,
  pullAll,
  pullFailure,
  repositoryOf,
  type Pulled,
} from '../../../src/vm/agent/pull.js';
import { nextChain, platformEntry } from '../../../src/vm/agent/record.js';
import { chainIds } from '../../rig/registry-client.js';

describe('references', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/nginx:1', 'docker.io/library/nginx:1'],
    ['docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['localhost/app:1', 'localhost/app:1'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['gcr.io/p/app@sha256:' + 'a'.repeat(64), 'gcr.io/p/app@sha256:' + 'a'.repeat(64)],
    ['us-docker.pkg.dev/p/r/app:v1', 'us-docker.pkg.dev/p/r/app:v1'],
    ['127.0.0.1:5000/rig/img:app', '127.0.0.1:5000/rig/img:app'],
  ])('normalizeRef %s → %s', (ref, want) => expect(normalizeRef(ref)).toBe(want));

  it.each([
    ['docker.io/library/nginx:latest', 'docker.io/library/nginx'],
    ['localhost:5000/app:1', 'localhost:5000/app'],
    ['127.0.0.1:5000/rig/img@sha256:' + 'b'.repeat(64), '127.0.0.1:5000/rig/img'],
    ['gcr.io/p/app:v1@sha256:' + 'c'.repeat(64), 'gcr.io/p/app'],
  ])('repositoryOf %s → %s', (ref, want) => expect(repositoryOf(ref)).toBe(want));

  it.each([
    ['gcr.io', true],
    ['eu.gcr.io', true],
    ['us-docker.pkg.dev', true],
    ['europe-west1-docker.pkg.dev', true],
    ['us-python.pkg.dev', true],
    ['docker.io', false],
    ['gcr.io.example.com', false],
    ['notgcr.io', false],
    ['127.0.0.1:5000', false],
  ])('isGoogleRegistry %s → %s', (host, want) => expect(isGoogleRegistry(host)).toBe(want));

  it('nextChain gives the OCI chain IDs', () => {
    const diffs = ['sha256:' + '1'.repeat(64), 'sha256:' + '2'.repeat(64), 'sha256:' + '3'.repeat(64)];
    const chains: string[] = [];
    for (const d of diffs) chains.push(nextChain(chains.at(-1) ?? '', d));
    expect(chains).toEqual(chainIds(diffs));
  });

  it('platformEntry prefers the variant, else the first of the os and architecture', () => {
    const index = {
      manifests: [
        { digest: 'a', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { digest: 'b', platform: { os: 'linux', architecture: 'amd64' } },
        { digest: 'c', platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
        { digest: 'd', platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      ],
    };
    expect(platformEntry(index, 'linux/amd64')).toBe('b');
    expect(platformEntry(index, 'linux/arm/v7')).toBe('d');
    expect(platformEntry(index, 'linux/arm64')).toBe('a');
    expect(platformEntry(index, 'windows/amd64')).toBeUndefined();
  });
});

describe("ctr's output", () => {
  it('keeps neither debug lines nor the progress table', () => {
    expect(keepCtrLine('time="2024" level=debug msg="fetch"')).toBe(false);
    expect(keepCtrLine('elapsed: 1.2 s  total: 0')).toBe(false);
    expect(keepCtrLine('layer-sha256:ab | done |')).toBe(false);
    expect(keepCtrLine('ctr: failed to resolve')).toBe(true);
  });

  it('says what was unpacked', () => {
    const t = 'sha256:' + 'a'.repeat(64);
    const c = 'sha256:' + 'b'.repeat(64);
    expect(parsePullOutput([`unpacking linux/amd64 ${t}...`, `image chain ID: ${c}`, 'done'])).toEqual({ target: t, chain: c });
  });

  const base = { ref: 'r.example/app:1', platform: 'linux/amd64', mountDir: '/mnt/d', dataDiskSize: 10 * 2 ** 30, bootDiskAvail: 2 ** 30 };
  it.each([
    [
      ['ctr: failed to extract layer: no space left on device'],
      /^the data disk \(10\.0 GB\) is full: unpacking r\.example\/app:1 needs more space; raise --disk-size-gb$/,
    ],
    [
      ['ctr: write /var/lib/gdib/x: no space left on device'],
      /^the VM's boot disk is full while downloading r\.example\/app:1 \(1\.0 GB free\)/,
    ],
    [
      ['ctr: pulling from host r.example failed with status code 401 Unauthorized'],
      /^the registry refused r\.example\/app:1 .*--image-pull-auth=ServiceAccountToken or Auto/,
    ],
    [['ctr: no match for platform in manifest: not found'], /^image r\.example\/app:1 has no linux\/amd64 variant \(--platform\)/],
    [['ctr: r.example/app:1: not found'], /^image r\.example\/app:1 not found: r\.example\/app:1: not found$/],
    [['something', 'ctr: boom', 'trailing'], /^pulling r\.example\/app:1 failed: boom$/],
  ])('a failure says what to do: %j', (lines, want) => {
    expect(pullFailure({ ...base, lines })).toMatch(want);
  });

  it('names the secret or the token the registry refused', () => {
    const lines = ['ctr: 403 Forbidden'];
    expect(
      pullFailure({
        ...base,
        lines,
        creds: { username: 'u', password: 'p', source: { kind: 'secret', name: 'projects/p/secrets/s/versions/1' } },
      }),
    ).toContain('with the credentials of secret projects/p/secrets/s/versions/1');
    expect(pullFailure({ ...base, lines, creds: { username: 'u', password: 'p', source: { kind: 'token' } } })).toContain(
      "with the VM's service-account token",
    );
  });
});

describe('credentials', () => {
  it('scrubs every form of a secret and signed URLs from relayed text', () => {
    const password = 'Pa55-w0rd:with"quotes/&';
    const s = new Scrubber();
    s.add(password, 'robot');
    const forms = secretForms(password, { username: 'robot' });
    expect(forms).toEqual(
      expect.arrayContaining([
        password,
        Buffer.from(password).toString('base64'),
        Buffer.from(`robot:${password}`).toString('base64'),
        encodeURIComponent(password),
        JSON.stringify(password).slice(1, -1),
      ]),
    );
    const text = forms.map((f) => `<${f}>`).join(' ') + ' https://storage.example/b?X-Goog-Signature=abc end';
    const out = s.scrub(text);
    for (const f of forms) expect(out).not.toContain(f);
    expect(out).toContain('?[redacted] end');
    s.clear();
    expect(s.scrub('plain')).toBe('plain');
  });

  it("sends every upstream of a host through its credential proxy, never Google's Docker Hub mirror, with no credential in the file", () => {
    const hub = parseHostsToml(
      'docker.io',
      'server = "https://registry-1.docker.io"\n\n[host."https://mirror.gcr.io"]\n  capabilities = ["pull", "resolve"]\n',
    );
    expect(hub).toEqual({
      server: 'https://registry-1.docker.io',
      hosts: [{ url: 'https://mirror.gcr.io', capabilities: ['pull', 'resolve'], ca: [], skipVerify: false, client: [] }],
      ca: [],
      skipVerify: false,
      client: [],
    });
    const proxy = (u: string) => `http://127.0.0.1:7/${u}`;
    expect(hostsWithProxies(hub, proxy)).toBe(
      'server = "http://127.0.0.1:7/https://registry-1.docker.io"\n\n[host."https://mirror.gcr.io"]\n  capabilities = ["pull","resolve"]\n',
    );
    expect(hostsWithProxies(parseHostsToml('r.example:5000', undefined), proxy)).toBe(
      'server = "http://127.0.0.1:7/https://r.example:5000"\n',
    );
    const rig = parseHostsToml(
      'h',
      '# rig\nserver = "http://127.0.0.1:1"\nca = "top.pem"\nclient = "both.pem"\n\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "push"]\n  ca = ["a.pem", "b.pem"]\n  skip_verify = true\n  client = [["c.cert", "c.key"], ["d.pem", ""], "e.pem",]\n[host."http://127.0.0.1:1".header]\n  x = ["y"]\n',
    );
    expect(rig).toEqual({
      server: 'http://127.0.0.1:1',
      hosts: [
        {
          url: 'http://127.0.0.1:1',
          capabilities: ['pull', 'push'],
          ca: ['a.pem', 'b.pem'],
          skipVerify: true,
          // containerd's three forms: [cert, key] pairs, and a file holding both (an empty key or a bare path).
          client: [
            ['c.cert', 'c.key'],
            ['d.pem', ''],
            ['e.pem', ''],
          ],
        },
      ],
      ca: ['top.pem'],
      skipVerify: false,
      client: [['both.pem', '']],
    });
    expect(hostsWithProxies(rig, () => 'http://127.0.0.1:9')).toBe(
      'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull"]\n',
    );
  });
});

describe('stall watch', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;

  it("reads the blobs a pull fetches from ctr's debug lines", () => {
    expect(
      fetchedDigest(
        `time="2026-12-06T04:00:00Z" level=debug msg=fetch digest="${d('a')}" mediatype=application/vnd.oci.image.layer.v1.tar+gzip size=5`,
      ),
    ).toBe(d('a'));
    expect(fetchedDigest(`time="x" level=debug msg="fetch response received" digest="${d('a')}"`)).toBeUndefined();
    expect(fetchedDigest(`layer-sha256:${'a'.repeat(64)}: downloading`)).toBeUndefined();
  });

  it("counts only the pull's own blobs, complete or in the content store's ingests", () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-content-'));
    try {
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(join(dir, 'blobs', 'sha256', 'a'.repeat(64)), 'x'.repeat(10));
      writeFileSync(join(dir, 'blobs', 'sha256', 'c'.repeat(64)), 'x'.repeat(1000));
      for (const [key, digest, size] of [
        ['k1', d('b'), 7],
        ['k2', d('e'), 500],
      ] as const) {
        mkdirSync(join(dir, 'ingest', key), { recursive: true });
        writeFileSync(join(dir, 'ingest', key, 'ref'), `k8s.io/1/layer-${digest}`);
        writeFileSync(join(dir, 'ingest', key, 'data'), 'x'.repeat(size));
      }
      // Another pull's blob (c) and download (e) do not count; a blob not there yet counts 0.
      expect(pullBytes(dir, new Set([d('a'), d('b'), d('f')]))).toBe(17);
      expect(pullBytes(dir, new Set())).toBe(0);
      expect(pullBytes(join(dir, 'missing'), new Set([d('a')]))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pullAll', () => {
  function ctx(): Ctx {
    return { signal: new AbortController().signal, step: new Step() } as unknown as Ctx;
  }
  const pulled = (i: number): Pulled => ({ target: `t${i}`, chain: `c${i}` });

  it('records in list order whatever order the pulls end in, the first pulled alone, at most `jobs` at once', async () => {
    const events: string[] = [];
    let running = 0;
    let most = 0;
    const delays = [5, 30, 1, 10, 2];
    await pullAll(
      ctx(),
      5,
      2,
      true,
      async (i) => {
        running++;
        most = Math.max(most, running);
        events.push(`start ${i}`);
        await new Promise((r) => setTimeout(r, delays[i - 1]));
        running--;
        return pulled(i);
      },
      (i, p) => {
        events.push(`record ${i} ${p.target}`);
        return Promise.resolve();
      },
    );
    expect(events.filter((e) => e.startsWith('record'))).toEqual([
      'record 1 t1',
      'record 2 t2',
      'record 3 t3',
      'record 4 t4',
      'record 5 t5',
    ]);
    expect(events.slice(0, 3)).toEqual(['start 1', 'record 1 t1', 'start 2']);
    expect(most).toBe(2);
  });

  it('stops the other pulls at the first failure and throws it', async () => {
    const stopped: number[] = [];
    const run = pullAll(
      ctx(),
      4,
      3,
      false,
      (i, stop) =>
        new Promise<Pulled>((resolve, reject) => {
          if (i === 2) return void setTimeout(() => reject(new Fail('image 2 not found')), 5);
          stop.addEventListener('abort', () => {
            stopped.push(i);
            reject(new Fail(`pulling ${i} was stopped`));
          });
          void resolve;
        }),
      () => Promise.resolve(),
    );
    await expect(run).rejects.toThrow('image 2 not found');
    expect(stopped.sort()).toEqual([1, 3]);
  });

  it('chooses one pull per CPU, at most 4, at most one per GiB of memory', () => {
    expect(chooseJobs(2, 8 * 2 ** 30)).toBe(2);
    expect(chooseJobs(16, 64 * 2 ** 30)).toBe(4);
    expect(chooseJobs(8, 3 * 2 ** 30)).toBe(3);
    expect(chooseJobs(8, 2 ** 29)).toBe(1);
  });
});

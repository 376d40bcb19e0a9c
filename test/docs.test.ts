// The README documents every flag and the test command .ci/run runs.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_FLAGS } from '../src/commands/build/flags.js';
import { CLEANUP_FLAGS } from '../src/commands/cleanup/flags.js';
import { DOCTOR_FLAGS } from '../src/commands/doctor/flags.js';
import { RUN_MODES } from '../src/config/flag.js';
import { PRUNE_FLAGS } from '../src/commands/prune/flags.js';
import { flagTable, tableMarkers, withTables } from '../src/config/flag-table.js';
import { customRoleCommand } from '../src/gcp/permissions.js';

const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it.each(Object.keys(BUILD_FLAGS))('documents --%s', (name) => {
    expect(readme).toMatch(new RegExp(`\\| \`--${name}\``));
  });

  it('has the flag tables the declarations give (npm run docs:flags rewrites them)', () => {
    expect(readme).toBe(
      withTables(readme, {
        build: flagTable(BUILD_FLAGS, 'flag', RUN_MODES),
        cleanup: flagTable(CLEANUP_FLAGS, '`cleanup` flag'),
        prune: flagTable(PRUNE_FLAGS, '`prune` flag'),
        doctor: flagTable(DOCTOR_FLAGS, '`doctor` flag', ['doctor', 'doctor --hits']),
      }),
    );
    // The markers are there, so the comparison above compared something.
    for (const name of ['build', 'cleanup', 'prune', 'doctor']) for (const marker of tableMarkers(name)) expect(readme).toContain(marker);
  });

  it('gives the least-privilege custom role generated from src/gcp/permissions.ts', () => {
    const block = /<!-- custom-role -->\n```sh\n([\s\S]*?)\n```\n<!-- \/custom-role -->/.exec(readme);
    expect(block, 'the custom-role block').not.toBeNull();
    expect(block![1]!.split('\n\n')[0]).toBe(customRoleCommand());
  });

  it('gives the build limit of --image-name and why', () => {
    const row = readme.split('\n').find((l) => l.startsWith('| `--image-name`'))!;
    expect(row).toContain('at most 39 characters for builds');
    expect(row).toContain('cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-');
  });

  it('says who needs roles/compute.imageUser on an image in another project, with the commands', () => {
    for (const member of [
      'CLUSTER_PROJECT_NUMBER-compute@developer.gserviceaccount.com',
      'service-CLUSTER_PROJECT_NUMBER@container-engine-robot.iam.gserviceaccount.com',
    ]) {
      expect(readme).toContain(
        `gcloud compute images add-iam-policy-binding ml-cache-v1 --project=IMAGE_PROJECT \\\n  --member=serviceAccount:${member} \\\n  --role=roles/compute.imageUser`,
      );
      expect(readme).toContain(
        `gcloud projects add-iam-policy-binding IMAGE_PROJECT \\\n  --member=serviceAccount:${member} \\\n  --role=roles/compute.imageUser`,
      );
    }
  });

  it('gives the exact test command that .ci/run runs', () => {
    const ci = readFileSync('.ci/run', 'utf8').trim().split('\n').pop()!;
    expect(readme).toContain(`\`\`\`sh\n${ci}\n\`\`\``);
  });
});

describe('docs/architecture.md', () => {
  const arch = readFileSync('docs/architecture.md', 'utf8');
  const headings = [...arch.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!.trim());
  const slug = (h: string) =>
    h
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, '')
      .replace(/ /g, '-');
  const files = [
    'README.md',
    ...['src', 'test', 'bench', 'scripts', 'docs'].flatMap((dir) =>
      (readdirSync(dir, { recursive: true }) as string[])
        .map((f) => join(dir, f))
        .filter((f) => /\.(ts|mjs|js|sh|md)$/.test(f) && statSync(f).isFile()),
    ),
  ];
  const texts = files.map((f) => [f, readFileSync(f, 'utf8')] as const);

  it("is linked from the README's Development section", () => {
    const dev = readme.slice(readme.indexOf('## Development'));
    expect(dev).toContain('(docs/architecture.md)');
  });

  it('has a heading for every citation of one of its sections (the file, a comma, the heading)', () => {
    const bad: string[] = [];
    for (const [f, text] of texts) {
      for (const m of text.matchAll(/docs\/architecture\.md, ([^\n]+)/g)) {
        if (!headings.some((h) => m[1]!.startsWith(h))) bad.push(`${f}: ${m[0]}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('has a heading for every link to one of its sections', () => {
    const bad: string[] = [];
    for (const [f, text] of texts) {
      for (const m of text.matchAll(/architecture\.md#([a-z0-9-]+)/g)) if (!headings.map(slug).includes(m[1]!)) bad.push(`${f}: ${m[0]}`);
    }
    expect(bad).toEqual([]);
  });

  it('is what the code cites: no section numbers of a contract outside the repository, no issue numbers', () => {
    const outside = new RegExp('SPEC \\u00a7|\\bissues? #?\\d+|\\bpoints? \\d+(, \\d+)*\\)', 'i');
    expect(texts.filter(([, text]) => outside.test(text)).map(([f]) => f)).toEqual([]);
  });
});

// No terminal injection: text from the VM's console, from a registry relayed by the VM, and from the VM's error
// reaches the terminal with its control characters escaped, never raw (docs/architecture.md, Hostile input). The
// real bin/ is spawned against the emulator, whose scripted VM prints escape sequences that retitle (OSC 0),
// reset (ESC c), clear the screen and overwrite a line (CR).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, serialLine, vmScripts, type Emulator } from '../emulator/index.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { expectNothingLeft } from '../integration/harness.js';
import { emulatorEnv } from '../helpers/emulator-env.js';

const TOKEN = 'ya29.terminal-injection-token-0123456789';
const ARGS = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--gcs-path=gs://test-bucket/logs',
  '--skip-image-check',
  '--container-image=nginx:1',
];
const HOSTILE = 'pull failed: \u001b]0;PWNED\u0007\u001bc\u001b[2J\rfake ok \u009b31m\u202eevil';
// eslint-disable-next-line no-control-regex -- what must never reach the terminal raw
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/;

let emu: Emulator;
let env: Record<string, string>;

beforeEach(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN] });
  env = emulatorEnv(emu, TOKEN);
});

afterEach(async () => {
  await emu.close();
});

describe('text from elsewhere is printed with its control characters escaped', () => {
  it.each([false, true])(
    'the VM console and the VM error (--json: %s)',
    async (json) => {
      const [first, ...rest] = vmScripts.fail(HOSTILE);
      emu.vm.script([first!, { afterMs: 0, serial: serialLine(`registry said: ${HOSTILE}`) }, ...rest]);
      const r = await spawnCli([...ARGS, '--image-name=img-inject', ...(json ? ['--json'] : [])], env).done;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(RAW_CONTROL);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      // What was there is still shown, escaped, so nothing is hidden from the user either.
      expect(r.stderr).toContain('\\u001b]0;PWNED\\u0007\\u001bc\\u001b[2J\\u000dfake ok \\u009b31m\\u202eevil');
      if (json) for (const l of r.stdout.trim().split('\n')) expect(() => JSON.parse(l) as unknown).not.toThrow();
      expectNothingLeft(emu);
    },
    60_000,
  );
});

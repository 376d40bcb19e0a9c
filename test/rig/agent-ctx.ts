// An agent context for tests that call the agent's parts in-process: a reporter whose lines are collected and whose
// guest attribute writes are recorded, a metadata server of fixed attributes, and the system seam (real or fake).
import { Step } from '../../src/vm/agent/errors.js';
import type { AgentEnv, AgentOptions, Ctx } from '../../src/vm/agent/context.js';
import { Metadata } from '../../src/vm/agent/metadata.js';
import { Reporter } from '../../src/vm/agent/report.js';
import { realSystem, type System } from '../../src/vm/agent/system.js';

export interface TestCtx extends Ctx {
  lines: string[];
  guest: [string, string][];
  abort: AbortController;
}

export function testCtx(opts: {
  env: Partial<AgentEnv> & { workDir: string; mountDir: string };
  sys?: System;
  opts?: AgentOptions;
  attributes?: Record<string, string>;
  token?: () => string;
}): TestCtx {
  const lines: string[] = [];
  const guest: [string, string][] = [];
  const fakeFetch = fakeMetadataFetch({ guest, attributes: opts.attributes ?? {}, ...(opts.token ? { token: opts.token } : {}) });
  const abort = new AbortController();
  const report = new Reporter({ mdHost: 'metadata.test', sink: (l) => lines.push(l), fetch: fakeFetch });
  return {
    sys: opts.sys ?? realSystem,
    report,
    md: new Metadata('metadata.test', fakeFetch),
    env: { secretManagerEndpoint: 'http://127.0.0.1:1', path: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
    opts: opts.opts ?? {},
    step: new Step(),
    signal: abort.signal,
    logs: `${opts.env.workDir}/logs`,
    lines,
    guest,
    abort,
  };
}

/** A metadata server as `fetch`: attributes, tokens (when `token` is given), guest attribute writes into `guest`. */
export function fakeMetadataFetch(o: {
  guest: [string, string][];
  attributes: Record<string, string>;
  token?: () => string;
}): typeof fetch {
  return ((url: string, init?: RequestInit) => {
    const path = new URL(url).pathname.replace('/computeMetadata/v1/instance/', '');
    if (init?.method === 'PUT') {
      o.guest.push([path.replace('guest-attributes/', ''), typeof init.body === 'string' ? init.body : '']);
      return Promise.resolve(new Response('', { status: 200 }));
    }
    if (path === 'service-accounts/default/token') {
      return Promise.resolve(o.token ? new Response(JSON.stringify({ access_token: o.token() })) : new Response('no', { status: 404 }));
    }
    const value = o.attributes[path.replace('attributes/', '')];
    return Promise.resolve(value === undefined ? new Response('Not found', { status: 404 }) : new Response(value));
  }) as typeof fetch;
}

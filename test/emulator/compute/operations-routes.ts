/**
 * zoneOperations, regionOperations, globalOperations: get (one step forward per call) and
 * wait (DONE at once; a slow operation is held until it is DONE or the wait's deadline passes; one that never
 * finishes answers RUNNING after the hold, as GCE's wait answers after its own deadline).
 */
import { notFound } from '../errors.js';
import type { Router } from '../router.js';
import { sleep } from '../server.js';
import { listBody, requireProject, requireRegion, requireZone, type ComputeDeps } from './context.js';

const V1 = '/compute/v1/projects/:project';

export function registerOperations(router: Router, deps: ComputeDeps): void {
  const { ops } = deps;
  const scopes = [
    { prefix: `${V1}/zones/:zone/operations`, calls: 'zoneOperations', scope: (p: Record<string, string>) => `zones/${p['zone']}` },
    {
      prefix: `${V1}/regions/:region/operations`,
      calls: 'regionOperations',
      scope: (p: Record<string, string>) => `regions/${p['region']}`,
    },
    { prefix: `${V1}/global/operations`, calls: 'globalOperations', scope: () => 'global' },
  ];

  // zoneOperations.list (filter, paging): how a client finds a compute.instances.preempted operation.
  router.add('GET', `${V1}/zones/:zone/operations`, 'zoneOperations.list', ({ params: { project, zone }, query }) => {
    requireZone(deps, project!, zone!);
    const mine = [...deps.state.operations.values()].filter((o) => o.project === project && o.zone === zone).map((o) => ops.toJSON(o));
    return { json: listBody('operation', `projects/${project}/zones/${zone}/operations`, mine, query) };
  });

  for (const { prefix, calls, scope } of scopes) {
    const find = (params: Record<string, string>) => {
      const project = params['project']!;
      if (params['zone']) requireZone(deps, project, params['zone']);
      else if (params['region']) requireRegion(deps, project, params['region']);
      else requireProject(deps, project);
      const op = ops.find(project, scope(params), params['operation']!);
      if (!op) throw notFound(`projects/${project}/${scope(params)}/operations/${params['operation']}`);
      return op;
    };

    router.add('GET', `${prefix}/:operation`, `${calls}.get`, ({ params }) => {
      const op = find(params);
      ops.advance(op);
      return { json: ops.toJSON(op) };
    });

    router.add('POST', `${prefix}/:operation/wait`, `${calls}.wait`, async ({ params, signal }) => {
      const op = find(params);
      ops.finish(op);
      if (op.status !== 'DONE' && op.notBefore !== undefined && !op.hang) {
        // A slow operation: hold the wait until it is done, or until the wait's own deadline, as GCE does.
        await sleep(Math.min(Math.max(0, op.notBefore - Date.now()), deps.operationWaitMs), signal);
        ops.finish(op);
      } else if (op.status !== 'DONE') await sleep(deps.operationWaitMs, signal);
      return { json: ops.toJSON(op) };
    });
  }
}

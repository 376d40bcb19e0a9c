// GKE versions and the node image types that can use a secondary boot disk as a container image cache, with the
// minimum version of each (docs/architecture.md, Doctor). The newest GKE docs give COS_CONTAINERD ≥ 1.30.1-gke.1329000
// for Standard and Autopilot; older ones gave 1.28.3-gke.1067000 for Standard, so a Standard node between the two
// is a warning, not a failure. UBUNTU_CONTAINERD needs ≥ 1.35.0-gke.1403000; other image types cannot use it.

export const COS_MIN = '1.30.1-gke.1329000';
export const COS_OLD_STANDARD_MIN = '1.28.3-gke.1067000';
export const UBUNTU_MIN = '1.35.0-gke.1403000';

/** `1.30.1-gke.1329000` → [1, 30, 1, 1329000]; undefined for anything else. */
export function parseGkeVersion(v: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-gke\.(\d+))?$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0)] : undefined;
}

/** <0, 0, >0 as `a` is older, the same, newer than `b`; undefined when either is not a GKE version. */
export function compareGkeVersions(a: string, b: string): number | undefined {
  const x = parseGkeVersion(a);
  const y = parseGkeVersion(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

export type VersionVerdict = { status: 'pass' | 'warn' | 'fail' | 'unknown'; detail: string; needs?: string };

/** The minimum version of each node image type that can use the cache. */
const MINIMUM: Readonly<Record<string, string>> = { COS_CONTAINERD: COS_MIN, UBUNTU_CONTAINERD: UBUNTU_MIN };

/** Whether nodes of `imageType` at `version` can use the cache, on a Standard or an Autopilot cluster. */
export function judgeVersion(imageType: string, version: string, autopilot: boolean): VersionVerdict {
  const type = imageType.toUpperCase();
  const needs = MINIMUM[type];
  if (!needs)
    return {
      status: 'fail',
      detail: `node image type ${imageType} cannot use a secondary boot disk (COS_CONTAINERD or UBUNTU_CONTAINERD only)`,
    };
  const c = compareGkeVersions(version, needs);
  if (c === undefined) return { status: 'unknown', detail: `version ${version} is not a GKE version this tool can compare`, needs };
  if (c >= 0) return { status: 'pass', detail: `${type} ${version} (needs ≥ ${needs})` };
  if (type === 'COS_CONTAINERD' && !autopilot && compareGkeVersions(version, COS_OLD_STANDARD_MIN)! >= 0)
    return {
      status: 'warn',
      detail: `${type} ${version}: older GKE docs accept ≥ ${COS_OLD_STANDARD_MIN} on Standard, the newest ask ≥ ${COS_MIN}`,
      needs,
    };
  return { status: 'fail', detail: `${type} ${version} is older than ${needs}`, needs };
}

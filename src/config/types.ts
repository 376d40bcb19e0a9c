// The validated configuration every other part of the tool works from.
import type { ImagePullAuth } from '../startup-script/render.js';

export type Mode = 'build' | 'verify';

export type KeyFile =
  | { path: string; type: 'service_account'; clientEmail: string; privateKey: string; privateKeyId?: string; tokenUri: string }
  | { path: string; type: 'authorized_user'; clientId: string; clientSecret: string; refreshToken: string; tokenUri: string };

export interface Config {
  readonly mode: Mode;
  readonly projectName: string;
  readonly zone: string;
  readonly region: string;
  readonly imageName: string;
  readonly imageFamilyName: string;
  readonly imageLabels: Readonly<Record<string, string>>;
  readonly jobName: string;
  readonly gcsPath: string;
  readonly gcsBucket: string;
  /** Object prefix inside the bucket, without leading or trailing slashes ("" for the bucket root). */
  readonly gcsPrefix: string;
  readonly containerImages: readonly string[];
  readonly machineType: string;
  readonly diskType: string;
  readonly diskSizeGb: number;
  readonly bootDiskSizeGb: number;
  readonly serviceAccount: string;
  readonly keyFile?: KeyFile;
  readonly imagePullAuth: ImagePullAuth;
  readonly timeoutMs: number;
  readonly network: string;
  readonly subnet?: string;
  readonly storeSnapshotChecksum: boolean;
  readonly storageLocations: readonly string[];
  readonly k8sManifestsFilepath?: string;
  readonly k8sNamespace: string;
  readonly platform: string;
  readonly skipImageCheck: boolean;
  /** Unset: Debian 12 for the machine type's architecture. */
  readonly bootImage?: string;
  readonly externalIp: boolean;
  readonly shieldedVm: boolean;
  readonly networkTags: readonly string[];
  readonly force: boolean;
  readonly keepOnFailure: boolean;
  readonly dryRun: boolean;
  /** --local: bake on this machine; `localOnly`: only write the archive (--output without --image-name). */
  readonly local: boolean;
  readonly localOnly: boolean;
  readonly archivePath?: string;
  readonly keepArchive: boolean;
  /** verify --local FILE: the disk file or archive to verify. */
  readonly verifyFile?: string;
  readonly output: { readonly json: boolean; readonly quiet: boolean; readonly logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'off' };
}

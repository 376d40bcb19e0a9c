// The environment that points a spawned CLI at the project's emulator (docs/architecture.md, Test seams): every
// API's endpoint override and the caller's token, so a test names only what it changes.
import type { Emulator } from '../emulator/index.js';

export function emulatorEnv(emu: Emulator, token: string): Record<string, string> {
  return {
    CLOUDSDK_AUTH_ACCESS_TOKEN: token,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
    STORAGE_EMULATOR_HOST: emu.storageHost,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: emu.storageHost,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER: emu.storageHost,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE: emu.storageHost,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: emu.storageHost,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING: emu.storageHost,
  };
}

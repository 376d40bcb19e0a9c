// The `verify` command: the Go tool's `--verify-only` as a command of its own. It reads build's declarations (one
// --config file serves a build and the verify of its image), and takes only the flags that apply to verify or
// verify --local (src/config/applies.ts); with --local it takes a FILE argument instead of an image.
import { BUILD_FLAGS } from '../build/flags.js';

export const VERIFY_FLAGS = BUILD_FLAGS;
export const VERIFY_ARGUMENT = { name: 'file', help: 'with --local: the disk file or .tar.gz archive to verify' } as const;

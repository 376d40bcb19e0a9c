// The run's logs in GCS (SPEC §7): serial-port-1.log (rewritten while the VM runs and once at the end),
// build.log (the CLI's own log, one JSON object per line) and result.json. Everything is redacted first.
import type { Redactor } from '../io/redact.js';
import type { StorageApi } from '../gcp/types.js';
import type { SerialLog } from './serial-log.js';
import { abortable } from '../io/abort.js';

export class LogsUploader {
  private serialWrite: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: StorageApi,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly serial: SerialLog,
    private readonly redactor: Redactor,
  ) {}

  /** Rewrites serial-port-1.log if there is new output; writes are serialized so an older copy never wins. */
  uploadSerial(signal: AbortSignal, force = false): Promise<void> {
    this.serialWrite = this.serialWrite
      .catch(() => undefined)
      .then(async () => {
        if (!this.serial.takeDirty() && !force) return;
        await this.storage.writeObject(this.bucket, `${this.prefix}/serial-port-1.log`, this.serial.text(), 'text/plain; charset=utf-8', signal);
      });
    return this.serialWrite;
  }

  async uploadFinal(buildLog: string, resultJson: string, signal: AbortSignal): Promise<void> {
    // Raced against the signal as a whole: the serial copy waits for the writes before it, which have limits of
    // their own, but the end of the run must not wait longer than this one.
    await abortable(Promise.all([
      this.uploadSerial(signal),
      this.storage.writeObject(this.bucket, `${this.prefix}/build.log`, this.redactor.redact(buildLog), 'application/x-ndjson', signal),
      this.storage.writeObject(this.bucket, `${this.prefix}/result.json`, this.redactor.redact(resultJson), 'application/json', signal),
    ]).then(() => undefined), signal);
  }
}

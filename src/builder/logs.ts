// The run's logs in GCS (docs/architecture.md, Logs): serial-port-1.log (rewritten while the VM runs and once at the end),
// build.log (the CLI's own log, one JSON object per line) and result.json. Everything is redacted first.
import type { Redactor } from '../io/redact.js';
import type { StorageApi } from '../gcp/types.js';
import type { SerialLog } from './serial-log.js';
import { abortable } from '../io/abort.js';

export class LogsUploader {
  private serialWrite: Promise<void> = Promise.resolve();
  /** A copy of the serial log is in GCS. */
  private serialWritten = false;

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
        const text = this.serial.text() || "[gke-disk-image-builder: the VM's serial console had no output when it was last read]\n";
        await this.storage.writeObject(this.bucket, `${this.prefix}/serial-port-1.log`, text, 'text/plain; charset=utf-8', signal);
        this.serialWritten = true;
      });
    return this.serialWrite;
  }

  /** `vmExisted`: serial-port-1.log is written even when the console had nothing new (or nothing at all). */
  async uploadFinal(buildLog: string, resultJson: string, vmExisted: boolean, signal: AbortSignal): Promise<void> {
    // Raced against the signal as a whole: the serial copy waits for the writes before it, which have limits of
    // their own, but the end of the run must not wait longer than this one.
    await abortable(
      Promise.all([
        this.uploadSerial(signal, vmExisted && !this.serialWritten),
        this.storage.writeObject(this.bucket, `${this.prefix}/build.log`, this.redactor.redact(buildLog), 'application/x-ndjson', signal),
        this.storage.writeObject(this.bucket, `${this.prefix}/result.json`, this.redactor.redact(resultJson), 'application/json', signal),
      ]).then(() => undefined),
      signal,
    );
  }
}

// A pino destination for tests: the log's lines, as written.
import { Writable } from 'node:stream';

export class LineCapture extends Writable {
  readonly lines: string[] = [];
  #rest = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const text = this.#rest + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#rest = parts.pop()!;
    this.lines.push(...parts.filter(Boolean));
    done();
  }
}

import type { BusRecord } from '../../../core/pipeline.js';
import { TopicRecordWriter } from '../record-writer.js';
import { connectTimeout, connectionConfig } from './config.js';
import { Deliveries } from './deliveries.js';
import { type NativeError, type NativeProducer, describeNativeError, loadNative } from './native.js';

/** The dead-letter topic's writer on librdkafka. */
export class LibrdkafkaRecordWriter extends TopicRecordWriter {
  private readonly deliveries = new Deliveries();
  private producer: Promise<NativeProducer> | undefined;

  protected async send(records: readonly BusRecord[]): Promise<void> {
    const producer = await this.connected();
    const sending = this.deliveries.start(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const headers = r.headers ? Object.entries(r.headers).map(([k, v]) => ({ [k]: v })) : undefined;
      try {
        producer.produce(this.topic, null, Buffer.from(r.value), r.key, null, sending.base + i, headers);
      } catch (err) {
        sending.failFrom(i, err as NativeError);
        break;
      }
    }
    const [error] = (await sending.outcome).failed.values();
    if (error) throw error;
  }

  protected describe(err: unknown): string {
    return describeNativeError(err);
  }

  async close(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined);
    this.producer = undefined;
    if (producer) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }

  private connected(): Promise<NativeProducer> {
    this.producer ??= new Promise<NativeProducer>((resolve, reject) => {
      const p = this.setup.options.producer;
      const producer = new (loadNative().Producer)({
        ...connectionConfig(this.setup, '-dead-letter'),
        'enable.idempotence': true,
        acks: 'all',
        'request.timeout.ms': p.request_timeout,
        'message.timeout.ms': p.request_timeout,
        'allow.auto.create.topics': true,
        partitioner: 'murmur2_random',
        dr_cb: true,
      });
      producer.on('delivery-report', (err, report) => this.deliveries.report(err, report));
      producer.on('event.error', (err) =>
        this.setup.logger.debug({ err: describeNativeError(err) }, 'librdkafka dead-letter producer error'),
      );
      producer.connect({ timeout: connectTimeout(this.setup.options) }, (err) => {
        if (err) {
          // The binding has disconnected it already; disconnect() would now throw "Producer
          // not connected" out of this callback and end the process.
          reject(err);
        } else {
          producer.setPollInBackground(true);
          resolve(producer);
        }
      });
    });
    this.producer.catch(() => (this.producer = undefined));
    return this.producer;
  }
}

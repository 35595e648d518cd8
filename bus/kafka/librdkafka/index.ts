import type { KafkaClient } from '../client.js';
import { LibrdkafkaConsumer } from './consumer.js';
import { LibrdkafkaProducer } from './producer.js';
import { LibrdkafkaRecordWriter } from './record-writer.js';

/** The bus on librdkafka through @confluentinc/kafka-javascript's native API. */
export const librdkafkaClient: KafkaClient = {
  producer: (setup, refused) => new LibrdkafkaProducer(setup, refused),
  consumer: (setup, undecodable) => new LibrdkafkaConsumer(setup, undecodable),
  recordWriter: (setup, topic) => new LibrdkafkaRecordWriter(setup, topic),
};

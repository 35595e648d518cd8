import type { KafkaClient } from '../client.js';
import { KafkajsConsumer } from './consumer.js';
import { KafkajsProducer } from './producer.js';
import { KafkajsRecordWriter } from './record-writer.js';

/** The bus on kafkajs (pure JavaScript): what runs when librdkafka is not installed. */
export const kafkajsClient: KafkaClient = {
  producer: (setup, refused) => new KafkajsProducer(setup, refused),
  consumer: (setup, undecodable) => new KafkajsConsumer(setup, undecodable),
  recordWriter: (setup, topic) => new KafkajsRecordWriter(setup, topic),
};

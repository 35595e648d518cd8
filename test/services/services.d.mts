// Types for services.mjs (plain JavaScript so `npm run services` needs no build step).

export declare const REPO_ROOT: string;
export declare const KAFKA_VERSION: string;
export declare const ELASTICSEARCH_VERSION: string;
export declare const HADOOP_VERSION: string;

/** Receives one progress line at a time; the default writes "[services] ..." to stderr. */
export type LogFn = (line: string) => void;

/**
 * Who keeps a started service: 'session' (a test run: stopped when the last test session
 * leaves), 'person' (`npm run services up`: stays until `down`); unset keeps the existing mark.
 */
export type Owner = 'session' | 'person';

export interface StartOptions {
  log?: LogFn;
  /** How long to wait for the service to answer; default 180 000 ms. */
  timeoutMs?: number;
  owner?: Owner;
}

export interface StopOptions {
  /** SIGTERM first, SIGKILL after this many ms; default 30 000. */
  graceMs?: number;
}

declare abstract class Service {
  readonly kind: 'Kafka' | 'Elasticsearch' | 'HDFS NameNode' | 'HDFS DataNode';
  /** Directory name under servicesDir(); also the instance's identity. */
  readonly name: string;
  /** Address from the environment (KAFKA_BROKERS / ELASTICSEARCH_URL); then nothing is run here. */
  readonly external: string | undefined;
  /** False when the service is external: start/stop/kill then throw. */
  readonly managed: boolean;
  readonly dir: string;
  readonly logDir: string;
  /** The log whose tail explains a failed start. */
  readonly mainLog: string;
  address(): string;
  /** Pid of this instance's live JVM, verified against its command line. */
  pid(): number | undefined;
  running(): boolean;
  /** Answers a metadata request (Kafka) / reports yellow or green health (Elasticsearch). */
  ready(): Promise<boolean>;
  start(options?: StartOptions): Promise<void>;
  stop(options?: StopOptions): Promise<void>;
  /** SIGKILL, like a crash; resolves when the process is gone. */
  kill(): Promise<void>;
  /** stop() and delete the instance's data, logs and settings. */
  destroy(): Promise<void>;
  startedBySession(): boolean;
}

export interface KafkaOptions {
  /** Instance directory under servicesDir(); a name other than 'kafka' is a private broker. */
  name?: string;
  /** Broker port on 127.0.0.1; 0 picks a free one at first start (kept across restarts). */
  port?: number;
  controllerPort?: number;
  /** JVM -Xmx; default SLUICE_KAFKA_HEAP or 512m. */
  heap?: string;
  external?: string;
}

export declare class KafkaService extends Service {
  constructor(options?: KafkaOptions);
  readonly kind: 'Kafka';
  port: number | undefined;
  controllerPort: number | undefined;
  /** Bootstrap list for clients, e.g. "127.0.0.1:19092" (comma-separated when external). */
  readonly brokers: string;
}

export interface ElasticsearchOptions {
  /** Instance directory under servicesDir(); a name other than 'elasticsearch' is a private node. */
  name?: string;
  /** HTTP port on 127.0.0.1; 0 picks a free one at first start (kept across restarts). */
  port?: number;
  transportPort?: number;
  /** JVM -Xms/-Xmx; default SLUICE_ES_HEAP or 512m. */
  heap?: string;
  external?: string;
}

export declare class ElasticsearchService extends Service {
  constructor(options?: ElasticsearchOptions);
  readonly kind: 'Elasticsearch';
  port: number | undefined;
  transportPort: number | undefined;
  /** e.g. "http://127.0.0.1:19200" */
  readonly url: string;
}

export interface HdfsOptions {
  /** Instance directory under servicesDir(); a name other than 'hdfs' is a private cluster. */
  name?: string;
  /** NameNode HTTP (WebHDFS) port on 127.0.0.1; 0 picks a free one at first start (kept across restarts). */
  httpPort?: number;
  rpcPort?: number;
  dataPort?: number;
  dataHttpPort?: number;
  dataIpcPort?: number;
  /** JVM -Xmx of each node; default SLUICE_HDFS_HEAP or 256m. */
  heap?: string;
  external?: string;
}

/** One NameNode or DataNode JVM of an HdfsService. */
export declare class HdfsNode extends Service {
  readonly role: 'namenode' | 'datanode';
}

/** A NameNode and a DataNode, each its own JVM, WebHDFS on 127.0.0.1. */
export declare class HdfsService {
  constructor(options?: HdfsOptions);
  readonly kind: 'HDFS';
  readonly name: string;
  readonly external: string | undefined;
  readonly managed: boolean;
  readonly dir: string;
  readonly namenode: HdfsNode;
  readonly datanode: HdfsNode;
  httpPort: number | undefined;
  /** NameNode HTTP base, e.g. "http://127.0.0.1:19870"; WebHDFS is under /webhdfs/v1. */
  readonly url: string;
  /** The user name whose WebHDFS requests act as the HDFS superuser. */
  readonly superuser: string;
  address(): string;
  pid(): number | undefined;
  running(): boolean;
  /** Out of safe mode with a live DataNode. */
  ready(): Promise<boolean>;
  waitReady(timeoutMs?: number): Promise<void>;
  start(options?: StartOptions): Promise<void>;
  stop(options?: StopOptions): Promise<void>;
  kill(): Promise<void>;
  destroy(): Promise<void>;
  startedBySession(): boolean;
}

export interface Addresses {
  kafkaBrokers: string;
  elasticsearchUrl: string;
  webhdfsUrl: string;
}

export interface ServiceStatus {
  service: 'Kafka' | 'Elasticsearch' | 'HDFS';
  address: string;
  managed: boolean;
  pid: number | undefined;
  ready: boolean;
  startedBySession: boolean;
  logs: string | undefined;
}

export declare function servicesDir(): string;
/** Where the services go when the clone is private and the scripts run as root. */
export declare function sharedServicesDir(): string;
/** Fetches the jars and the distribution with Maven unless complete; quick when present. */
export declare function provision(options?: { log?: LogFn }): Promise<void>;
/** Fetches Hadoop's jars (pom.xml profile `hdfs`) unless present. */
export declare function provisionHdfs(options?: { log?: LogFn }): Promise<void>;

/** The shared broker (KAFKA_BROKERS, or ours on SLUICE_KAFKA_PORT, default 19092). */
export declare const kafka: KafkaService;
/** The shared node (ELASTICSEARCH_URL, or ours on SLUICE_ES_PORT, default 19200). */
export declare const elasticsearch: ElasticsearchService;
/** The shared HDFS (WEBHDFS_URL, or ours with WebHDFS on SLUICE_HDFS_HTTP_PORT, default 19870). */
export declare const hdfs: HdfsService;

export declare function up(options?: StartOptions): Promise<Addresses>;
export declare function down(options?: { log?: LogFn }): Promise<void>;
export declare function status(): Promise<ServiceStatus[]>;
/** `count` distinct free ports on 127.0.0.1 (all probes held until every port is found). */
export declare function freePorts(count: number): Promise<number[]>;
export declare function addresses(): Addresses;
/** Sets KAFKA_BROKERS / ELASTICSEARCH_URL (and SLUICE_MANAGED_* twins for ours) in env, default process.env. */
export declare function exportAddresses(env?: NodeJS.ProcessEnv): void;
/** Sets WEBHDFS_URL (and its SLUICE_MANAGED_* twin for ours) in env, default process.env. */
export declare function exportHdfsAddress(env?: NodeJS.ProcessEnv): void;
/**
 * Kafka and Elasticsearch for a test session (started if need be) plus a lease; release() stops
 * what sessions started once the last one leaves. HDFS is not part of it (acquireHdfs).
 */
export declare function acquire(options?: {
  log?: LogFn;
  timeoutMs?: number;
}): Promise<Omit<Addresses, 'webhdfsUrl'> & { release(): Promise<void> }>;
/** The shared HDFS for a test file or benchmark that writes to it: started if need be, WEBHDFS_URL exported, leased. */
export declare function acquireHdfs(options?: {
  log?: LogFn;
  timeoutMs?: number;
}): Promise<{ webhdfsUrl: string; release(): Promise<void> }>;

export declare function startKafka(options?: StartOptions): Promise<void>;
export declare function stopKafka(options?: StopOptions): Promise<void>;
export declare function killKafka(): Promise<void>;
export declare function startElasticsearch(options?: StartOptions): Promise<void>;
export declare function stopElasticsearch(options?: StopOptions): Promise<void>;
export declare function killElasticsearch(): Promise<void>;
export declare function startHdfs(options?: StartOptions): Promise<void>;
export declare function stopHdfs(options?: StopOptions): Promise<void>;

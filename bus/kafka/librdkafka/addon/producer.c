/*
 * Sluice's own producer boundary to librdkafka (the library the binding builds and loads).
 *
 * The binding hands every record across with a persistent handle for its opaque, its
 * headers as JavaScript objects it walks by property name, and a JavaScript object and a
 * callback per delivery report: 3-4 µs of CPU per record, which capped the bus's producer at
 * a quarter of what librdkafka does from C (bus/kafka/README.md, "Throughput"). Here a record
 * crosses as plain values (topic index, partition, value bytes, key bytes, header bytes, a
 * sequence number as its opaque), and delivery reports come back in bulk: a poller thread
 * serves librdkafka's queue, collects reports and errors, and wakes JavaScript once per batch
 * of them; JavaScript takes them as one Float64Array of (sequence, error code) pairs.
 *
 * Loaded only after the binding, whose librdkafka.so.1 it links against by soname.
 */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int code;
  /* 1: a fatal error; 0: an error; -1: a log line of librdkafka's (code is its syslog level). */
  int fatal;
  char *message;
} kafka_error_t;

/* A record's headers as (name, value) byte pairs, copied once: the bus's producer has one per service/module. */
typedef struct {
  size_t count;
  char **names;
  size_t *name_lens;
  char **values;
  size_t *value_lens;
} header_set_t;

/* Numbers per record of produceBatch's layout (produce-batch.ts, BATCH_NUMBERS). */
#define BATCH_NUMBERS 8

typedef struct {
  rd_kafka_t *rk;
  /* librdkafka's main queue (reports, errors, logs), which the poller serves. */
  rd_kafka_queue_t *main_queue;
  pthread_t poller;
  int polling;
  atomic_int stop;
  /* Guards what the poller (or a flush) collects and JavaScript takes. */
  pthread_mutex_t lock;
  double *reports;
  size_t report_count;
  size_t report_capacity;
  kafka_error_t *errors;
  size_t error_count;
  size_t error_capacity;
  /* 1 while a wake-up is on its way and not taken yet: one per batch, not per report. */
  int woken;
  napi_threadsafe_function wake;
  /* Topic handles by index; only JavaScript's thread adds to them. */
  rd_kafka_topic_t **topics;
  size_t topic_count;
  size_t topic_capacity;
  /* Header sets by index (headerSet); only JavaScript's thread adds to them. */
  header_set_t *header_sets;
  size_t header_set_count;
  size_t header_set_capacity;
  int closed;
} producer_t;

/* Called by librdkafka from whichever thread polls: the poller, or a flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  producer_t *p = opaque;
  pthread_mutex_lock(&p->lock);
  grow((void **)&p->reports, &p->report_capacity, p->report_count + 2, sizeof(double));
  p->reports[p->report_count++] = (double)(intptr_t)m->_private;
  p->reports[p->report_count++] = (double)m->err;
  pthread_mutex_unlock(&p->lock);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  producer_t *p = opaque;
  int fatal;
  char *message = error_text(rk, &err, reason, &fatal);
  pthread_mutex_lock(&p->lock);
  grow((void **)&p->errors, &p->error_capacity, p->error_count + 1, sizeof(kafka_error_t));
  p->errors[p->error_count++] = (kafka_error_t){err, fatal, message};
  pthread_mutex_unlock(&p->lock);
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
  if (level > 4) return;
  producer_t *p = rd_kafka_opaque(rk);
  char *message = log_text(facility, line);
  pthread_mutex_lock(&p->lock);
  grow((void **)&p->errors, &p->error_capacity, p->error_count + 1, sizeof(kafka_error_t));
  p->errors[p->error_count++] = (kafka_error_t){level, -1, message};
  pthread_mutex_unlock(&p->lock);
}

static void wake_if_due(producer_t *p) {
  pthread_mutex_lock(&p->lock);
  int due = !p->woken && (p->report_count > 0 || p->error_count > 0);
  if (due) p->woken = 1;
  pthread_mutex_unlock(&p->lock);
  if (due) napi_call_threadsafe_function(p->wake, NULL, napi_tsfn_nonblocking);
}

/*
 * Returns as soon as something was served; idle, it waits a second at a time (an idle
 * sidecar's wake-ups count), and stopping it yields the wait (stop_poller).
 */
static void *poll_loop(void *arg) {
  producer_t *p = arg;
  while (!atomic_load(&p->stop)) {
    rd_kafka_queue_poll_callback(p->main_queue, 1000);
    wake_if_due(p);
  }
  return NULL;
}

static void stop_poller(producer_t *p) {
  if (!p->polling) return;
  atomic_store(&p->stop, 1);
  rd_kafka_queue_yield(p->main_queue);
  pthread_join(p->poller, NULL);
  p->polling = 0;
}

/* The client and what it holds; the poller has stopped. */
static void destroy_client(producer_t *p) {
  for (size_t i = 0; i < p->topic_count; i++) rd_kafka_topic_destroy(p->topics[i]);
  p->topic_count = 0;
  if (p->main_queue) rd_kafka_queue_destroy(p->main_queue);
  p->main_queue = NULL;
  if (p->rk) rd_kafka_destroy(p->rk);
  p->rk = NULL;
}

static void free_collected(producer_t *p) {
  for (size_t i = 0; i < p->error_count; i++) free(p->errors[i].message);
  p->error_count = 0;
  p->report_count = 0;
}

static void free_header_set(header_set_t *set) {
  for (size_t h = 0; h < set->count; h++) {
    free(set->names[h]);
    free(set->values[h]);
  }
  free(set->names);
  free(set->name_lens);
  free(set->values);
  free(set->value_lens);
}

static void release_producer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  producer_t *p = data;
  /* close() destroys the client; a handle collected without it still must not leak one. */
  stop_poller(p);
  destroy_client(p);
  free_collected(p);
  free(p->reports);
  free(p->errors);
  free(p->topics);
  for (size_t i = 0; i < p->header_set_count; i++) free_header_set(&p->header_sets[i]);
  free(p->header_sets);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

static producer_t *producer_of(napi_env env, napi_value handle) {
  void *p = NULL;
  if (napi_get_value_external(env, handle, &p) != napi_ok || p == NULL) return NULL;
  producer_t *producer = p;
  if (producer->closed) {
    napi_throw_error(env, NULL, "librdkafka producer closed");
    return NULL;
  }
  return producer;
}

/* create(keys: string[], values: string[], wake: () => void): a producer handle. */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char error[512];
  rd_kafka_conf_t *conf = conf_of(env, argv[0], argv[1]);
  if (!conf) return NULL;
  producer_t *p = calloc(1, sizeof *p);
  pthread_mutex_init(&p->lock, NULL);
  rd_kafka_conf_set_opaque(conf, p);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!p->rk) {
    rd_kafka_conf_destroy(conf);
    pthread_mutex_destroy(&p->lock);
    free(p);
    napi_throw_error(env, NULL, error);
    return NULL;
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "sluice-librdkafka-reports", NAPI_AUTO_LENGTH, &name));
  napi_value handle;
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, call_wake, &p->wake) != napi_ok ||
      napi_create_external(env, p, release_producer, NULL, &handle) != napi_ok) {
    rd_kafka_destroy(p->rk);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return throw_napi(env, "create");
  }
  /* An idle producer does not keep the process alive; close() is what ends it. */
  napi_unref_threadsafe_function(env, p->wake);
  p->main_queue = rd_kafka_queue_get_main(p->rk);
  if (pthread_create(&p->poller, NULL, poll_loop, p) != 0) {
    napi_throw_error(env, NULL, "librdkafka addon: could not start the poller thread");
    return NULL;
  }
  p->polling = 1;
  return handle;
}

/* topic(p, name): the index of the topic's handle, made once. */
static napi_value topic(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  if (!p) return NULL;
  char name[512];
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len));
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, name, NULL);
  if (!rkt) {
    napi_throw_error(env, NULL, rd_kafka_err2str(rd_kafka_last_error()));
    return NULL;
  }
  grow((void **)&p->topics, &p->topic_capacity, p->topic_count + 1, sizeof(rd_kafka_topic_t *));
  p->topics[p->topic_count] = rkt;
  napi_value index;
  CHECK(napi_create_uint32(env, (uint32_t)p->topic_count++, &index));
  return index;
}

static int bytes_of(napi_env env, napi_value v, void **data, size_t *len) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return 0;
  if (type == napi_null || type == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  napi_typedarray_type array_type;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, &array_type, len, data, &buffer, &offset) == napi_ok;
}

/* A typed array of `type`: its data and its length in elements. */
static int typed_array_of(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *len) {
  napi_typedarray_type actual;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, &actual, len, data, &buffer, &offset) == napi_ok && actual == type;
}

/*
 * produce(p, topic: index, partition (-1: the partitioner's), value: Uint8Array,
 *         key: Uint8Array | null, timestamp (0: now), headers: Uint8Array[] | null
 *         (name, value, name, value, ...), sequence): librdkafka's error code, 0 when queued.
 * The bytes are copied before it returns.
 */
static napi_value produce(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  if (!p) return NULL;
  uint32_t topic_index;
  int32_t partition;
  int64_t timestamp;
  double sequence;
  void *value, *key;
  size_t value_len, key_len;
  CHECK(napi_get_value_uint32(env, argv[1], &topic_index));
  CHECK(napi_get_value_int32(env, argv[2], &partition));
  CHECK(napi_get_value_int64(env, argv[5], &timestamp));
  CHECK(napi_get_value_double(env, argv[7], &sequence));
  if (topic_index >= p->topic_count) {
    napi_throw_range_error(env, NULL, "librdkafka addon: unknown topic index");
    return NULL;
  }
  if (!bytes_of(env, argv[3], &value, &value_len) || !bytes_of(env, argv[4], &key, &key_len))
    return throw_napi(env, "value and key must be byte arrays");
  rd_kafka_headers_t *headers = NULL;
  napi_valuetype headers_type;
  CHECK(napi_typeof(env, argv[6], &headers_type));
  if (headers_type == napi_object) {
    uint32_t n;
    CHECK(napi_get_array_length(env, argv[6], &n));
    headers = rd_kafka_headers_new(n / 2);
    for (uint32_t i = 0; i + 1 < n; i += 2) {
      napi_value name, data;
      void *name_bytes, *data_bytes;
      size_t name_len, data_len;
      if (napi_get_element(env, argv[6], i, &name) != napi_ok || napi_get_element(env, argv[6], i + 1, &data) != napi_ok ||
          !bytes_of(env, name, &name_bytes, &name_len) || !bytes_of(env, data, &data_bytes, &data_len)) {
        rd_kafka_headers_destroy(headers);
        return throw_napi(env, "headers must be byte arrays");
      }
      rd_kafka_header_add(headers, name_bytes, (ssize_t)name_len, data_bytes, (ssize_t)data_len);
    }
  }
  rd_kafka_resp_err_t err = rd_kafka_producev(
      p->rk, RD_KAFKA_V_RKT(p->topics[topic_index]), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_TIMESTAMP(timestamp),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE((void *)(intptr_t)sequence), RD_KAFKA_V_END);
  /* On success librdkafka owns the headers; on failure they are still ours. */
  if (err && headers) rd_kafka_headers_destroy(headers);
  napi_value code;
  CHECK(napi_create_int32(env, err, &code));
  return code;
}

/* headerSet(p, headers: Uint8Array[] (name, value, name, value, ...)): the index of a copy of them, for produceBatch. */
static napi_value header_set(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  if (!p) return NULL;
  uint32_t n;
  CHECK(napi_get_array_length(env, argv[1], &n));
  size_t pairs = n / 2;
  header_set_t set = {0, calloc(pairs + 1, sizeof(char *)), calloc(pairs + 1, sizeof(size_t)), calloc(pairs + 1, sizeof(char *)),
                      calloc(pairs + 1, sizeof(size_t))};
  for (size_t h = 0; h < pairs; h++) {
    napi_value name, data;
    void *name_bytes, *data_bytes;
    size_t name_len, data_len;
    if (napi_get_element(env, argv[1], (uint32_t)(2 * h), &name) != napi_ok ||
        napi_get_element(env, argv[1], (uint32_t)(2 * h + 1), &data) != napi_ok || !bytes_of(env, name, &name_bytes, &name_len) ||
        !bytes_of(env, data, &data_bytes, &data_len)) {
      free_header_set(&set);
      return throw_napi(env, "headers must be byte arrays");
    }
    set.names[h] = malloc(name_len + 1);
    memcpy(set.names[h], name_bytes, name_len);
    set.name_lens[h] = name_len;
    set.values[h] = malloc(data_len + 1);
    memcpy(set.values[h], data_bytes, data_len);
    set.value_lens[h] = data_len;
    set.count = h + 1;
  }
  grow((void **)&p->header_sets, &p->header_set_capacity, p->header_set_count + 1, sizeof(header_set_t));
  p->header_sets[p->header_set_count] = set;
  napi_value index;
  CHECK(napi_create_uint32(env, (uint32_t)p->header_set_count++, &index));
  return index;
}

/*
 * clearHeaderSets(p): frees every header set, whose indexes are no longer valid. Sets are
 * only read during a produceBatch (librdkafka copies them), so any time between two is safe.
 */
static napi_value clear_header_sets(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  if (!p) return NULL;
  for (size_t i = 0; i < p->header_set_count; i++) free_header_set(&p->header_sets[i]);
  p->header_set_count = 0;
  return NULL;
}

/*
 * produceBatch(p, data: Uint8Array, layout: Int32Array, from, count, sequenceBase,
 *              result: Int32Array(2)): hands records [from, count) to librdkafka in order, as
 * produce() would one by one, up to the first it refuses. Record i's BATCH_NUMBERS numbers in
 * layout: topic index, partition (-1: the partitioner's), value start and length in data,
 * key start and length (-1: no key), header set (-1: none), and its sequence, its opaque
 * being sequenceBase + that. result gets the index of the first record not handed over
 * (count: all were) and librdkafka's error code for it. The bytes are copied before it returns.
 */
static napi_value produce_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  if (!p) return NULL;
  uint8_t *data;
  int32_t *layout, *result;
  size_t data_len, layout_len, result_len;
  uint32_t from, count;
  double sequence_base;
  if (!typed_array_of(env, argv[1], napi_uint8_array, (void **)&data, &data_len) ||
      !typed_array_of(env, argv[2], napi_int32_array, (void **)&layout, &layout_len) ||
      !typed_array_of(env, argv[6], napi_int32_array, (void **)&result, &result_len))
    return throw_napi(env, "data must be a Uint8Array, layout and result Int32Arrays");
  CHECK(napi_get_value_uint32(env, argv[3], &from));
  CHECK(napi_get_value_uint32(env, argv[4], &count));
  CHECK(napi_get_value_double(env, argv[5], &sequence_base));
  if (layout_len < (size_t)count * BATCH_NUMBERS || result_len < 2 || from > count) {
    napi_throw_range_error(env, NULL, "librdkafka addon: layout or result too short for the batch");
    return NULL;
  }
  for (uint32_t i = from; i < count; i++) {
    const int32_t *n = layout + (size_t)i * BATCH_NUMBERS;
    if (n[0] < 0 || (size_t)n[0] >= p->topic_count || n[6] < -1 || (n[6] >= 0 && (size_t)n[6] >= p->header_set_count) || n[2] < 0 ||
        n[3] < 0 || (size_t)n[2] + (size_t)n[3] > data_len || (n[5] >= 0 && (n[4] < 0 || (size_t)n[4] + (size_t)n[5] > data_len))) {
      napi_throw_range_error(env, NULL, "librdkafka addon: a record's topic, header set or bytes are out of range");
      return NULL;
    }
  }
  uint32_t i = from;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (; i < count; i++) {
    const int32_t *n = layout + (size_t)i * BATCH_NUMBERS;
    rd_kafka_headers_t *headers = NULL;
    if (n[6] >= 0) {
      const header_set_t *set = &p->header_sets[n[6]];
      headers = rd_kafka_headers_new(set->count);
      for (size_t h = 0; h < set->count; h++)
        rd_kafka_header_add(headers, set->names[h], (ssize_t)set->name_lens[h], set->values[h], (ssize_t)set->value_lens[h]);
    }
    const void *key = n[5] < 0 ? NULL : data + n[4];
    size_t key_len = n[5] < 0 ? 0 : (size_t)n[5];
    void *opaque = (void *)(intptr_t)(sequence_base + n[7]);
    err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(p->topics[n[0]]), RD_KAFKA_V_PARTITION(n[1]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_VALUE(data + n[2], (size_t)n[3]), RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_HEADERS(headers),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err) {
      /* On failure the headers are still ours. */
      if (headers) rd_kafka_headers_destroy(headers);
      break;
    }
  }
  result[0] = (int32_t)i;
  result[1] = err;
  return NULL;
}

/*
 * take(p): [Float64Array of (sequence, error code) pairs, {code, fatal, message}[]] collected
 * since the last take; fatal is 1 for a fatal error, 0 for an error, -1 for a log line (code:
 * its syslog level).
 */
static napi_value take(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *external = NULL;
  CHECK(napi_get_value_external(env, argv[0], &external));
  producer_t *p = external;
  napi_value result, reports, errors, buffer;
  void *data;
  pthread_mutex_lock(&p->lock);
  size_t count = p->report_count;
  if (napi_create_arraybuffer(env, count * sizeof(double), &data, &buffer) != napi_ok) {
    pthread_mutex_unlock(&p->lock);
    return throw_napi(env, "take");
  }
  if (count) memcpy(data, p->reports, count * sizeof(double));
  napi_create_typedarray(env, napi_float64_array, count, buffer, 0, &reports);
  napi_create_array_with_length(env, p->error_count, &errors);
  for (size_t i = 0; i < p->error_count; i++) {
    napi_value e, code, fatal, message;
    napi_create_object(env, &e);
    napi_create_int32(env, p->errors[i].code, &code);
    napi_create_int32(env, p->errors[i].fatal, &fatal);
    napi_create_string_utf8(env, p->errors[i].message, NAPI_AUTO_LENGTH, &message);
    napi_set_named_property(env, e, "code", code);
    napi_set_named_property(env, e, "fatal", fatal);
    napi_set_named_property(env, e, "message", message);
    napi_set_element(env, errors, (uint32_t)i, e);
  }
  free_collected(p);
  p->woken = 0;
  pthread_mutex_unlock(&p->lock);
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_set_element(env, result, 0, reports));
  CHECK(napi_set_element(env, result, 1, errors));
  return result;
}

/* Blocking calls run on libuv's threadpool and settle a promise. */
typedef enum { WORK_METADATA, WORK_CREATE_TOPIC, WORK_FLUSH, WORK_CLOSE } work_kind_t;

typedef struct {
  work_kind_t kind;
  producer_t *p;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle;
  char *topic;
  int all_topics;
  int timeout_ms;
  int partitions;
  int replication_factor;
  rd_kafka_resp_err_t err;
  char message[512];
  const struct rd_kafka_metadata *metadata;
  int remaining;
} work_t;

static void run_work(napi_env env, void *data) {
  (void)env;
  work_t *w = data;
  producer_t *p = w->p;
  switch (w->kind) {
    case WORK_METADATA: {
      rd_kafka_topic_t *rkt = w->topic ? rd_kafka_topic_new(p->rk, w->topic, NULL) : NULL;
      w->err = rd_kafka_metadata(p->rk, w->all_topics, rkt, &w->metadata, w->timeout_ms);
      if (rkt) rd_kafka_topic_destroy(rkt);
      break;
    }
    case WORK_CREATE_TOPIC: {
      rd_kafka_NewTopic_t *topic = rd_kafka_NewTopic_new(w->topic, w->partitions, w->replication_factor, w->message, sizeof w->message);
      if (!topic) {
        w->err = RD_KAFKA_RESP_ERR__INVALID_ARG;
        break;
      }
      rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(p->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
      rd_kafka_AdminOptions_set_request_timeout(options, w->timeout_ms, NULL, 0);
      rd_kafka_AdminOptions_set_operation_timeout(options, w->timeout_ms, NULL, 0);
      rd_kafka_queue_t *queue = rd_kafka_queue_new(p->rk);
      rd_kafka_CreateTopics(p->rk, &topic, 1, options, queue);
      rd_kafka_event_t *event = rd_kafka_queue_poll(queue, w->timeout_ms + 1000);
      if (!event) {
        w->err = RD_KAFKA_RESP_ERR__TIMED_OUT;
      } else if (rd_kafka_event_error(event)) {
        w->err = rd_kafka_event_error(event);
        snprintf(w->message, sizeof w->message, "%s", rd_kafka_event_error_string(event));
      } else {
        size_t n;
        const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
        w->err = n > 0 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (w->err && rd_kafka_topic_result_error_string(results[0]))
          snprintf(w->message, sizeof w->message, "%s", rd_kafka_topic_result_error_string(results[0]));
      }
      if (event) rd_kafka_event_destroy(event);
      rd_kafka_queue_destroy(queue);
      rd_kafka_AdminOptions_destroy(options);
      rd_kafka_NewTopic_destroy(topic);
      break;
    }
    case WORK_FLUSH:
      w->err = rd_kafka_flush(p->rk, w->timeout_ms);
      w->remaining = rd_kafka_outq_len(p->rk);
      /* The flush served reports itself, on this thread: the poller may be waiting still. */
      wake_if_due(p);
      break;
    case WORK_CLOSE:
      stop_poller(p);
      destroy_client(p);
      break;
  }
}

static napi_value metadata_value(napi_env env, const struct rd_kafka_metadata *md) {
  napi_value result, topics;
  napi_create_object(env, &result);
  napi_create_array_with_length(env, md->topic_cnt, &topics);
  for (int i = 0; i < md->topic_cnt; i++) {
    napi_value t, name, partitions;
    napi_create_object(env, &t);
    napi_create_string_utf8(env, md->topics[i].topic, NAPI_AUTO_LENGTH, &name);
    napi_set_named_property(env, t, "name", name);
    int known = md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    napi_create_array_with_length(env, known ? md->topics[i].partition_cnt : 0, &partitions);
    for (int j = 0; known && j < md->topics[i].partition_cnt; j++) {
      napi_value partition, id;
      napi_create_object(env, &partition);
      napi_create_int32(env, md->topics[i].partitions[j].id, &id);
      napi_set_named_property(env, partition, "id", id);
      napi_set_element(env, partitions, j, partition);
    }
    napi_set_named_property(env, t, "partitions", partitions);
    napi_set_element(env, topics, i, t);
  }
  napi_set_named_property(env, result, "topics", topics);
  return result;
}

static void complete_work(napi_env env, napi_status status, void *data) {
  work_t *w = data;
  napi_value outcome;
  int failed = status != napi_ok || w->err != RD_KAFKA_RESP_ERR_NO_ERROR;
  if (w->kind == WORK_FLUSH) {
    /* A flush that timed out still tells how many records librdkafka holds. */
    failed = status != napi_ok;
    napi_create_int32(env, w->remaining, &outcome);
  } else if (failed) {
    outcome = error_value(env, status != napi_ok ? RD_KAFKA_RESP_ERR__FAIL : w->err, w->message);
  } else if (w->kind == WORK_METADATA) {
    outcome = metadata_value(env, w->metadata);
  } else {
    napi_get_undefined(env, &outcome);
  }
  if (w->metadata) rd_kafka_metadata_destroy(w->metadata);
  if (w->kind == WORK_CLOSE) napi_release_threadsafe_function(w->p->wake, napi_tsfn_release);
  settle_request(env, w->deferred, w->handle, w->work, failed, outcome);
  free(w->topic);
  free(w);
}

/* Starts `kind` on the threadpool; the handle is kept alive until it completes. */
static napi_value start_work(napi_env env, napi_value handle, work_t *w) {
  napi_value promise = queue_request(env, handle, w, run_work, complete_work, &w->deferred, &w->handle, &w->work);
  if (!promise) {
    free(w->topic);
    free(w);
    return throw_napi(env, "async work");
  }
  return promise;
}

/*
 * The requests that run on the threadpool, each settling a promise:
 *   metadata(p, topic: string | null, allTopics: boolean, timeoutMs): {topics}
 *   createTopic(p, name, partitions, replicationFactor, timeoutMs): undefined
 *   flush(p, timeoutMs): the records librdkafka still holds after it
 *   close(p): undefined; stops the poller and destroys the client (records still held are dropped)
 */
static napi_value request(napi_env env, napi_callback_info info, work_kind_t kind) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  if (!p) return NULL;
  work_t *w = calloc(1, sizeof *w);
  w->kind = kind;
  w->p = p;
  switch (kind) {
    case WORK_METADATA: {
      bool all = false;
      w->topic = string_or_null(env, argv[1]);
      napi_get_value_bool(env, argv[2], &all);
      w->all_topics = all;
      napi_get_value_int32(env, argv[3], &w->timeout_ms);
      break;
    }
    case WORK_CREATE_TOPIC:
      w->topic = string_or_null(env, argv[1]);
      napi_get_value_int32(env, argv[2], &w->partitions);
      napi_get_value_int32(env, argv[3], &w->replication_factor);
      napi_get_value_int32(env, argv[4], &w->timeout_ms);
      if (!w->topic) {
        free(w);
        napi_throw_type_error(env, NULL, "librdkafka addon: topic name must be a string");
        return NULL;
      }
      break;
    case WORK_FLUSH:
      napi_get_value_int32(env, argv[1], &w->timeout_ms);
      break;
    case WORK_CLOSE:
      p->closed = 1;
      break;
  }
  return start_work(env, argv[0], w);
}

static napi_value metadata(napi_env env, napi_callback_info info) { return request(env, info, WORK_METADATA); }
static napi_value create_topic(napi_env env, napi_callback_info info) { return request(env, info, WORK_CREATE_TOPIC); }
static napi_value flush(napi_env env, napi_callback_info info) { return request(env, info, WORK_FLUSH); }
static napi_value close_producer(napi_env env, napi_callback_info info) { return request(env, info, WORK_CLOSE); }

/* errorName(code): librdkafka's description of an error code. */
static napi_value error_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t code;
  CHECK(napi_get_value_int32(env, argv[0], &code));
  napi_value text;
  CHECK(napi_create_string_utf8(env, rd_kafka_err2str(code), NAPI_AUTO_LENGTH, &text));
  return text;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"topic", NULL, topic, NULL, NULL, NULL, napi_default, NULL},
      {"produce", NULL, produce, NULL, NULL, NULL, napi_default, NULL},
      {"produceBatch", NULL, produce_batch, NULL, NULL, NULL, napi_default, NULL},
      {"headerSet", NULL, header_set, NULL, NULL, NULL, napi_default, NULL},
      {"clearHeaderSets", NULL, clear_header_sets, NULL, NULL, NULL, napi_default, NULL},
      {"take", NULL, take, NULL, NULL, NULL, napi_default, NULL},
      {"metadata", NULL, metadata, NULL, NULL, NULL, napi_default, NULL},
      {"createTopic", NULL, create_topic, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, flush, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_producer, NULL, NULL, NULL, napi_default, NULL},
      {"errorName", NULL, error_name, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  consumer_register(env, exports);
  return exports;
}

NAPI_MODULE(sluice_librdkafka, init)

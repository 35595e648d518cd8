/*
 * Sluice's own consumer boundary to librdkafka, beside the producer (producer.c).
 *
 * The binding hands every fetched record to JavaScript as an object it builds property by
 * property, with its value copied into a Buffer of its own: that, not fetching, capped the
 * collector (bus/kafka/README.md, "Throughput"). Here a consume packs a round's values and
 * keys into one buffer, off JavaScript's thread, and describes each record with numbers in
 * one Float64Array; JavaScript views the values in place.
 *
 * Group events (rebalances, commit outcomes, errors, librdkafka's warnings) are served by
 * the thread that polls, inside a consume, as with the binding: they are queued here and
 * JavaScript is woken once per batch of them. A rebalance is answered by JavaScript
 * (assign/unassign), which librdkafka waits for, so a round in flight finishes and commits
 * before its partitions are given up. While the consumer closes, this file answers them.
 */
#include "common.h"
#include <pthread.h>
#include <stdint.h>

enum { EVENT_ERROR = 0, EVENT_FATAL = 1, EVENT_LOG = 2, EVENT_REBALANCE = 3, EVENT_COMMIT = 4 };

typedef struct {
  int kind;
  int code;
  char *message;
  /* Rebalance: the partitions; commit: the offsets with their errors. */
  rd_kafka_topic_partition_list_t *partitions;
} consumer_event_t;

typedef struct {
  /* The config every connect makes its client from. */
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  pthread_mutex_t lock;
  consumer_event_t *events;
  size_t event_count;
  size_t event_capacity;
  int woken;
  /* Set on the closing thread: rebalances are answered here, not by JavaScript. */
  int closing;
  /* Set on JavaScript's thread when close was asked for: every call after it fails. */
  int closed;
  napi_threadsafe_function wake;
} consumer_t;

static void push_event(consumer_t *c, consumer_event_t event) {
  pthread_mutex_lock(&c->lock);
  grow((void **)&c->events, &c->event_capacity, c->event_count + 1, sizeof(consumer_event_t));
  c->events[c->event_count++] = event;
  int due = !c->woken;
  c->woken = 1;
  pthread_mutex_unlock(&c->lock);
  if (due) napi_call_threadsafe_function(c->wake, NULL, napi_tsfn_nonblocking);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  consumer_t *c = opaque;
  if (c->closing) {
    /* Leaving the group: nothing is in flight any more, so the partitions go at once. */
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, partitions));
      else rd_kafka_assign(rk, partitions);
    } else if (cooperative) {
      rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, partitions));
    } else {
      rd_kafka_assign(rk, NULL);
    }
    return;
  }
  push_event(c, (consumer_event_t){EVENT_REBALANCE, err, NULL, rd_kafka_topic_partition_list_copy(partitions)});
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets, void *opaque) {
  (void)rk;
  push_event(opaque, (consumer_event_t){EVENT_COMMIT, err, NULL, offsets ? rd_kafka_topic_partition_list_copy(offsets) : NULL});
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  int fatal;
  char *message = error_text(rk, &err, reason, &fatal);
  push_event(opaque, (consumer_event_t){fatal ? EVENT_FATAL : EVENT_ERROR, err, message, NULL});
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
  if (level > 4) return;
  push_event(rd_kafka_opaque(rk), (consumer_event_t){EVENT_LOG, level, log_text(facility, line), NULL});
}

static void free_events(consumer_t *c) {
  for (size_t i = 0; i < c->event_count; i++) {
    free(c->events[i].message);
    if (c->events[i].partitions) rd_kafka_topic_partition_list_destroy(c->events[i].partitions);
  }
  c->event_count = 0;
}

static void release_consumer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  consumer_t *c = data;
  /* close() destroys the client; a handle collected without it still must not leak one. */
  if (c->rk) {
    c->closing = 1;
    rd_kafka_destroy(c->rk);
  }
  rd_kafka_conf_destroy(c->conf);
  free_events(c);
  free(c->events);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* The consumer of a handle, connected unless `unconnected`; NULL with an exception pending. */
static consumer_t *consumer_of(napi_env env, napi_value handle, int unconnected) {
  void *external = NULL;
  if (napi_get_value_external(env, handle, &external) != napi_ok || external == NULL) {
    napi_throw_type_error(env, NULL, "librdkafka addon: not a consumer handle");
    return NULL;
  }
  consumer_t *c = external;
  if (c->closed || (!unconnected && !c->rk)) {
    napi_value error = error_value(env, RD_KAFKA_RESP_ERR__STATE, c->closed ? "librdkafka consumer closed" : "librdkafka consumer not connected");
    napi_throw(env, error);
    return NULL;
  }
  return c;
}

/* consumerCreate(keys: string[], values: string[], wake: () => void): a consumer handle, not connected. */
static napi_value consumer_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  rd_kafka_conf_t *conf = conf_of(env, argv[0], argv[1]);
  if (!conf) return NULL;
  consumer_t *c = calloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  rd_kafka_conf_set_opaque(conf, c);
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  c->conf = conf;
  napi_value name, handle;
  if (napi_create_string_utf8(env, "sluice-librdkafka-consumer", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, call_wake, &c->wake) != napi_ok) {
    rd_kafka_conf_destroy(conf);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return throw_napi(env, "consumerCreate");
  }
  if (napi_create_external(env, c, release_consumer, NULL, &handle) != napi_ok) return throw_napi(env, "consumerCreate");
  napi_unref_threadsafe_function(env, c->wake);
  return handle;
}

/* A list from [{topic, partition, offset?}]; NULL with an exception pending. */
static rd_kafka_topic_partition_list_t *partitions_of(napi_env env, napi_value array) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok) return throw_napi(env, "partitions must be an array"), NULL;
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value tp, topic, partition, offset;
    napi_valuetype offset_type;
    char *name = NULL;
    int32_t id;
    if (napi_get_element(env, array, i, &tp) != napi_ok || napi_get_named_property(env, tp, "topic", &topic) != napi_ok ||
        !(name = string_or_null(env, topic)) || napi_get_named_property(env, tp, "partition", &partition) != napi_ok ||
        napi_get_value_int32(env, partition, &id) != napi_ok || napi_get_named_property(env, tp, "offset", &offset) != napi_ok ||
        napi_typeof(env, offset, &offset_type) != napi_ok) {
      free(name);
      rd_kafka_topic_partition_list_destroy(list);
      napi_throw_type_error(env, NULL, "librdkafka addon: a partition must be {topic: string, partition: number, offset?: number}");
      return NULL;
    }
    rd_kafka_topic_partition_t *added = rd_kafka_topic_partition_list_add(list, name, id);
    free(name);
    if (offset_type == napi_number) {
      int64_t at;
      napi_get_value_int64(env, offset, &at);
      added->offset = at;
    }
  }
  return list;
}

/* [{topic, partition, offset, error?}] of a list; offsets only `with_offsets`. */
static napi_value partitions_value(napi_env env, const rd_kafka_topic_partition_list_t *list, int with_offsets) {
  napi_value array;
  int n = list ? list->cnt : 0;
  napi_create_array_with_length(env, n, &array);
  for (int i = 0; i < n; i++) {
    const rd_kafka_topic_partition_t *p = &list->elems[i];
    napi_value tp, topic, partition;
    napi_create_object(env, &tp);
    napi_create_string_utf8(env, p->topic, NAPI_AUTO_LENGTH, &topic);
    napi_create_int32(env, p->partition, &partition);
    napi_set_named_property(env, tp, "topic", topic);
    napi_set_named_property(env, tp, "partition", partition);
    if (with_offsets) {
      napi_value offset;
      napi_create_int64(env, p->offset, &offset);
      napi_set_named_property(env, tp, "offset", offset);
      if (p->err) napi_set_named_property(env, tp, "error", error_value(env, p->err, NULL));
    }
    napi_set_element(env, array, i, tp);
  }
  return array;
}

static napi_value code_value(napi_env env, rd_kafka_resp_err_t err) {
  napi_value code;
  napi_create_int32(env, err, &code);
  return code;
}

/* subscribe(c, topics: string[]): librdkafka's error code (a topic starting with ^ is a regex). */
static napi_value subscribe(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  consumer_t *c = consumer_of(env, argv[0], 0);
  if (!c) return NULL;
  uint32_t n;
  CHECK(napi_get_array_length(env, argv[1], &n));
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    char *name = napi_get_element(env, argv[1], i, &v) == napi_ok ? string_or_null(env, v) : NULL;
    if (!name) {
      rd_kafka_topic_partition_list_destroy(topics);
      napi_throw_type_error(env, NULL, "librdkafka addon: topics must be strings");
      return NULL;
    }
    rd_kafka_topic_partition_list_add(topics, name, RD_KAFKA_PARTITION_UA);
    free(name);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  return code_value(env, err);
}

typedef enum { PARTITIONS_ASSIGN, PARTITIONS_PAUSE, PARTITIONS_RESUME, PARTITIONS_COMMIT } partitions_call_t;

/*
 * assign(c, partitions | null), pause(c, partitions), resume(c, partitions), commit(c, offsets):
 * librdkafka's error code. assign(c, null) gives the assignment up; a commit is asynchronous,
 * its outcome a commit event.
 */
static napi_value partitions_call(napi_env env, napi_callback_info info, partitions_call_t call) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  consumer_t *c = consumer_of(env, argv[0], 0);
  if (!c) return NULL;
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[1], &type));
  rd_kafka_topic_partition_list_t *list = NULL;
  if (type != napi_null || call != PARTITIONS_ASSIGN) {
    list = partitions_of(env, argv[1]);
    if (!list) return NULL;
  }
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  switch (call) {
    case PARTITIONS_ASSIGN:
      err = rd_kafka_assign(c->rk, list);
      break;
    case PARTITIONS_PAUSE:
      err = rd_kafka_pause_partitions(c->rk, list);
      break;
    case PARTITIONS_RESUME:
      err = rd_kafka_resume_partitions(c->rk, list);
      break;
    case PARTITIONS_COMMIT:
      err = rd_kafka_commit(c->rk, list, 1);
      break;
  }
  if (list) rd_kafka_topic_partition_list_destroy(list);
  return code_value(env, err);
}

static napi_value assign(napi_env env, napi_callback_info info) { return partitions_call(env, info, PARTITIONS_ASSIGN); }
static napi_value pause_partitions(napi_env env, napi_callback_info info) { return partitions_call(env, info, PARTITIONS_PAUSE); }
static napi_value resume_partitions(napi_env env, napi_callback_info info) { return partitions_call(env, info, PARTITIONS_RESUME); }
static napi_value commit(napi_env env, napi_callback_info info) { return partitions_call(env, info, PARTITIONS_COMMIT); }

/* assignment(c): [{topic, partition}] this member holds. */
static napi_value assignment(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  consumer_t *c = consumer_of(env, argv[0], 0);
  if (!c) return NULL;
  rd_kafka_topic_partition_list_t *list = NULL;
  rd_kafka_resp_err_t err = rd_kafka_assignment(c->rk, &list);
  if (err) {
    napi_throw(env, error_value(env, err, NULL));
    return NULL;
  }
  napi_value result = partitions_value(env, list, 0);
  rd_kafka_topic_partition_list_destroy(list);
  return result;
}

/*
 * takeEvents(c): [{kind, code, message, partitions}] queued since the last take, in order:
 * kind 0 error, 1 fatal error, 2 log line (code: its syslog level), 3 rebalance (code:
 * assign or revoke), 4 commit outcome (partitions with their offsets and errors).
 */
static napi_value take_events(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *external = NULL;
  CHECK(napi_get_value_external(env, argv[0], &external));
  consumer_t *c = external;
  pthread_mutex_lock(&c->lock);
  size_t n = c->event_count;
  consumer_event_t *events = c->events;
  c->events = NULL;
  c->event_count = 0;
  c->event_capacity = 0;
  c->woken = 0;
  pthread_mutex_unlock(&c->lock);
  napi_value result;
  napi_create_array_with_length(env, n, &result);
  for (size_t i = 0; i < n; i++) {
    consumer_event_t *e = &events[i];
    napi_value event, kind, message;
    napi_create_object(env, &event);
    napi_create_int32(env, e->kind, &kind);
    napi_set_named_property(env, event, "kind", kind);
    napi_set_named_property(env, event, "code", code_value(env, e->code));
    if (e->message) {
      napi_create_string_utf8(env, e->message, NAPI_AUTO_LENGTH, &message);
      napi_set_named_property(env, event, "message", message);
    }
    if (e->kind == EVENT_REBALANCE || e->kind == EVENT_COMMIT)
      napi_set_named_property(env, event, "partitions", partitions_value(env, e->partitions, e->kind == EVENT_COMMIT));
    napi_set_element(env, result, (uint32_t)i, event);
    free(e->message);
    if (e->partitions) rd_kafka_topic_partition_list_destroy(e->partitions);
  }
  free(events);
  return result;
}

/* Per record in a round: topic index, partition, offset, timestamp, value start, value length, key start, key length. */
#define RECORD_NUMBERS 8

typedef enum { WORK_CONNECT, WORK_CONSUME, WORK_SEEK, WORK_CLOSE } work_kind_t;

typedef struct {
  work_kind_t kind;
  consumer_t *c;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle;
  int timeout_ms;
  int count;
  int only_first;
  rd_kafka_resp_err_t err;
  char message[512];
  /* A round: values and keys in one buffer, numbers per record, the topics they name. */
  char *bytes;
  size_t byte_count;
  double *numbers;
  int records;
  /* The topics' handles while packing, their names once packed. */
  rd_kafka_topic_t **topics;
  char **topic_names;
  int topic_count;
  rd_kafka_topic_partition_list_t *seek;
} work_t;

/* Packs what a consume took: one malloc for the bytes, off JavaScript's thread. */
static void pack_round(work_t *w, rd_kafka_message_t **messages, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += messages[i]->len + messages[i]->key_len;
  w->bytes = malloc(total ? total : 1);
  w->numbers = malloc(sizeof(double) * RECORD_NUMBERS * (size_t)(n > 0 ? n : 1));
  w->topics = malloc(sizeof(rd_kafka_topic_t *) * (size_t)(n > 0 ? n : 1));
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    rd_kafka_message_t *m = messages[i];
    int topic = 0;
    while (topic < w->topic_count && w->topics[topic] != m->rkt) topic++;
    if (topic == w->topic_count) w->topics[w->topic_count++] = m->rkt;
    double *r = &w->numbers[i * RECORD_NUMBERS];
    rd_kafka_timestamp_type_t type;
    r[0] = topic;
    r[1] = m->partition;
    r[2] = (double)m->offset;
    r[3] = (double)rd_kafka_message_timestamp(m, &type);
    r[4] = (double)at;
    r[5] = m->payload ? (double)m->len : -1;
    if (m->payload) {
      memcpy(w->bytes + at, m->payload, m->len);
      at += m->len;
    }
    r[6] = (double)at;
    r[7] = m->key ? (double)m->key_len : -1;
    if (m->key) {
      memcpy(w->bytes + at, m->key, m->key_len);
      at += m->key_len;
    }
  }
  w->byte_count = at;
  w->records = n;
}

/* Up to `count` records: the first within timeout_ms, the rest only while they are there already (only_first). */
static void consume_round(work_t *w) {
  rd_kafka_t *rk = w->c->rk;
  rd_kafka_message_t **messages = malloc(sizeof *messages * (size_t)(w->count > 0 ? w->count : 1));
  int n = 0;
  int timeout = w->timeout_ms;
  while (n < w->count) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout);
    if (!m) break;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err) {
      /* Said when nothing else is: records taken before it are handed over first, as the binding does. */
      if (n == 0) {
        w->err = m->err;
        snprintf(w->message, sizeof w->message, "%s", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
      break;
    }
    messages[n++] = m;
    if (w->only_first) timeout = 1;
  }
  pack_round(w, messages, n);
  w->topic_names = malloc(sizeof(char *) * (size_t)(w->topic_count > 0 ? w->topic_count : 1));
  for (int t = 0; t < w->topic_count; t++) w->topic_names[t] = strdup(rd_kafka_topic_name(w->topics[t]));
  for (int i = 0; i < n; i++) rd_kafka_message_destroy(messages[i]);
  free(messages);
}

static void run_work(napi_env env, void *data) {
  (void)env;
  work_t *w = data;
  consumer_t *c = w->c;
  switch (w->kind) {
    case WORK_CONNECT: {
      if (!c->rk) {
        rd_kafka_conf_t *conf = rd_kafka_conf_dup(c->conf);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, w->message, sizeof w->message);
        if (!c->rk) {
          rd_kafka_conf_destroy(conf);
          w->err = RD_KAFKA_RESP_ERR__INVALID_ARG;
          break;
        }
        /* Errors, logs and commit outcomes are served by the consume, with the records. */
        rd_kafka_poll_set_consumer(c->rk);
      }
      const struct rd_kafka_metadata *metadata = NULL;
      w->err = rd_kafka_metadata(c->rk, 0, NULL, &metadata, w->timeout_ms);
      if (metadata) rd_kafka_metadata_destroy(metadata);
      if (w->err) {
        /* Not reachable: nothing of it is kept (a retry makes a new client), as the binding does. */
        c->closing = 1;
        rd_kafka_destroy(c->rk);
        c->rk = NULL;
        c->closing = 0;
      }
      break;
    }
    case WORK_CONSUME:
      consume_round(w);
      break;
    case WORK_SEEK: {
      rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, w->seek, w->timeout_ms);
      if (error) {
        w->err = rd_kafka_error_code(error);
        snprintf(w->message, sizeof w->message, "%s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
      } else if (w->seek->cnt > 0 && w->seek->elems[0].err) {
        w->err = w->seek->elems[0].err;
      }
      break;
    }
    case WORK_CLOSE:
      if (c->rk) {
        c->closing = 1;
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
        c->rk = NULL;
      }
      break;
  }
}

static void free_external(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* A round: [bytes: Buffer, numbers: Float64Array, topics: string[]]. */
static napi_value round_value(napi_env env, work_t *w) {
  napi_value result, bytes, numbers, buffer, topics;
  void *data;
  if (napi_create_external_buffer(env, w->byte_count, w->bytes, free_external, NULL, &bytes) == napi_ok) {
    w->bytes = NULL;
  } else {
    /* Where external buffers are refused, a copy. */
    napi_create_buffer_copy(env, w->byte_count, w->bytes, NULL, &bytes);
  }
  size_t numbers_len = (size_t)w->records * RECORD_NUMBERS;
  napi_create_arraybuffer(env, numbers_len * sizeof(double), &data, &buffer);
  if (numbers_len) memcpy(data, w->numbers, numbers_len * sizeof(double));
  napi_create_typedarray(env, napi_float64_array, numbers_len, buffer, 0, &numbers);
  napi_create_array_with_length(env, w->topic_count, &topics);
  for (int t = 0; t < w->topic_count; t++) {
    napi_value name;
    napi_create_string_utf8(env, w->topic_names[t], NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, topics, t, name);
  }
  napi_create_array_with_length(env, 3, &result);
  napi_set_element(env, result, 0, bytes);
  napi_set_element(env, result, 1, numbers);
  napi_set_element(env, result, 2, topics);
  return result;
}

static void complete_work(napi_env env, napi_status status, void *data) {
  work_t *w = data;
  napi_value outcome;
  int failed = status != napi_ok || w->err != RD_KAFKA_RESP_ERR_NO_ERROR;
  if (failed)
    outcome = error_value(env, status != napi_ok ? RD_KAFKA_RESP_ERR__FAIL : w->err, w->message);
  else if (w->kind == WORK_CONSUME)
    outcome = round_value(env, w);
  else
    napi_get_undefined(env, &outcome);
  if (w->kind == WORK_CLOSE) napi_release_threadsafe_function(w->c->wake, napi_tsfn_release);
  settle_request(env, w->deferred, w->handle, w->work, failed, outcome);
  for (int t = 0; w->topic_names && t < w->topic_count; t++) free(w->topic_names[t]);
  free(w->topic_names);
  free(w->topics);
  free(w->bytes);
  free(w->numbers);
  if (w->seek) rd_kafka_topic_partition_list_destroy(w->seek);
  free(w);
}

/*
 * The calls that block, on libuv's threadpool, each settling a promise:
 *   connect(c, timeoutMs): undefined once the brokers answered a metadata request
 *   consume(c, count, timeoutMs, onlyFirst: boolean): a round (round_value)
 *   seek(c, {topic, partition, offset}, timeoutMs): undefined
 *   consumerClose(c): undefined, once the member left its group and the client is destroyed
 */
static napi_value request(napi_env env, napi_callback_info info, work_kind_t kind) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  consumer_t *c = consumer_of(env, argv[0], kind == WORK_CONNECT || kind == WORK_CLOSE);
  if (!c) return NULL;
  work_t *w = calloc(1, sizeof *w);
  w->kind = kind;
  w->c = c;
  switch (kind) {
    case WORK_CONNECT:
      napi_get_value_int32(env, argv[1], &w->timeout_ms);
      break;
    case WORK_CONSUME: {
      bool only_first = false;
      napi_get_value_int32(env, argv[1], &w->count);
      napi_get_value_int32(env, argv[2], &w->timeout_ms);
      napi_get_value_bool(env, argv[3], &only_first);
      w->only_first = only_first;
      break;
    }
    case WORK_SEEK: {
      napi_value one;
      napi_create_array_with_length(env, 1, &one);
      napi_set_element(env, one, 0, argv[1]);
      w->seek = partitions_of(env, one);
      if (!w->seek) {
        free(w);
        return NULL;
      }
      napi_get_value_int32(env, argv[2], &w->timeout_ms);
      break;
    }
    case WORK_CLOSE:
      c->closed = 1;
      break;
  }
  napi_value promise = queue_request(env, argv[0], w, run_work, complete_work, &w->deferred, &w->handle, &w->work);
  if (!promise) {
    if (w->seek) rd_kafka_topic_partition_list_destroy(w->seek);
    free(w);
    return throw_napi(env, "async work");
  }
  return promise;
}

static napi_value connect_consumer(napi_env env, napi_callback_info info) { return request(env, info, WORK_CONNECT); }
static napi_value consume(napi_env env, napi_callback_info info) { return request(env, info, WORK_CONSUME); }
static napi_value seek(napi_env env, napi_callback_info info) { return request(env, info, WORK_SEEK); }
static napi_value close_consumer(napi_env env, napi_callback_info info) { return request(env, info, WORK_CLOSE); }

void consumer_register(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"consumerCreate", NULL, consumer_create, NULL, NULL, NULL, napi_default, NULL},
      {"consumerConnect", NULL, connect_consumer, NULL, NULL, NULL, napi_default, NULL},
      {"subscribe", NULL, subscribe, NULL, NULL, NULL, napi_default, NULL},
      {"consume", NULL, consume, NULL, NULL, NULL, napi_default, NULL},
      {"assign", NULL, assign, NULL, NULL, NULL, napi_default, NULL},
      {"assignment", NULL, assignment, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, pause_partitions, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, resume_partitions, NULL, NULL, NULL, napi_default, NULL},
      {"commit", NULL, commit, NULL, NULL, NULL, napi_default, NULL},
      {"seek", NULL, seek, NULL, NULL, NULL, napi_default, NULL},
      {"takeEvents", NULL, take_events, NULL, NULL, NULL, napi_default, NULL},
      {"consumerClose", NULL, close_consumer, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

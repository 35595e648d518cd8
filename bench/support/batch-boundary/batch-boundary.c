/*
 * A measurement, not the product: librdkafka's producer driven through a boundary that
 * carries a whole batch per call, so that `bench bus` can tell what the bus's producer
 * would reach if records stopped crossing from JavaScript into C++ one call, one opaque
 * handle, one header object and one delivery-report object each (the binding's protocol,
 * measured at 3-4 µs of CPU per record, bus/kafka/README.md "Throughput").
 *
 * produce(): the values of a round in one Buffer with their end offsets, a partition and a
 * (service, module) header pair index per record, and a sequence number as the opaque.
 * poll(): serves librdkafka's delivery reports on the calling thread and returns them as
 * one Int32Array of (sequence, error code) pairs. There is no wake-up: the bench polls.
 * Built by bench/support/batch-boundary.ts against the binding's own librdkafka.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  rd_kafka_t *rk;
  int32_t *reports;
  size_t count;
  size_t capacity;
} producer_t;

#define CHECK(call)                                  \
  do {                                               \
    if ((call) != napi_ok) {                         \
      napi_throw_error(env, NULL, "napi: " #call);   \
      return NULL;                                   \
    }                                                \
  } while (0)

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  producer_t *p = opaque;
  if (p->count + 2 > p->capacity) {
    p->capacity = p->capacity ? 2 * p->capacity : 8192;
    p->reports = realloc(p->reports, p->capacity * sizeof(int32_t));
  }
  p->reports[p->count++] = (int32_t)(intptr_t)m->_private;
  p->reports[p->count++] = m->err;
}

static void release(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  producer_t *p = data;
  if (p->rk) {
    rd_kafka_flush(p->rk, 5000);
    rd_kafka_destroy(p->rk);
  }
  free(p->reports);
  free(p);
}

static producer_t *producer_of(napi_env env, napi_value v) {
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

/* create(keys: string[], values: string[]): a producer handle. */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t n;
  CHECK(napi_get_array_length(env, argv[0], &n));
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char error[512], key[256], value[16384];
  for (uint32_t i = 0; i < n; i++) {
    napi_value k, v;
    size_t len;
    CHECK(napi_get_element(env, argv[0], i, &k));
    CHECK(napi_get_element(env, argv[1], i, &v));
    CHECK(napi_get_value_string_utf8(env, k, key, sizeof key, &len));
    CHECK(napi_get_value_string_utf8(env, v, value, sizeof value, &len));
    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      napi_throw_error(env, NULL, error);
      return NULL;
    }
  }
  producer_t *p = calloc(1, sizeof *p);
  rd_kafka_conf_set_opaque(conf, p);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!p->rk) {
    free(p);
    napi_throw_error(env, NULL, error);
    return NULL;
  }
  napi_value handle;
  CHECK(napi_create_external(env, p, release, NULL, &handle));
  return handle;
}

static void *typed_data(napi_env env, napi_value v) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data = NULL;
  napi_value buffer;
  napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset);
  return data;
}

/*
 * produce(p, topic, values: Buffer, ends: Uint32Array, partitions: Int32Array,
 *         pairOf: Uint16Array, pairs: Buffer[] (service, module, service, ...),
 *         firstSequence, from, to): records [from, to) of the round; returns how many were
 * queued, fewer when librdkafka's queue is full.
 */
static napi_value produce(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  char topic[256];
  size_t topic_len;
  CHECK(napi_get_value_string_utf8(env, argv[1], topic, sizeof topic, &topic_len));
  char *values;
  size_t values_len;
  CHECK(napi_get_buffer_info(env, argv[2], (void **)&values, &values_len));
  const uint32_t *ends = typed_data(env, argv[3]);
  const int32_t *partitions = typed_data(env, argv[4]);
  const uint16_t *pair_of = typed_data(env, argv[5]);
  uint32_t pair_values;
  CHECK(napi_get_array_length(env, argv[6], &pair_values));
  const char *header[64];
  size_t header_len[64];
  if (pair_values > 64) {
    napi_throw_range_error(env, NULL, "at most 32 (service, module) pairs per round");
    return NULL;
  }
  for (uint32_t i = 0; i < pair_values; i++) {
    napi_value b;
    CHECK(napi_get_element(env, argv[6], i, &b));
    CHECK(napi_get_buffer_info(env, b, (void **)&header[i], &header_len[i]));
  }
  int64_t sequence;
  uint32_t from, to;
  CHECK(napi_get_value_int64(env, argv[7], &sequence));
  CHECK(napi_get_value_uint32(env, argv[8], &from));
  CHECK(napi_get_value_uint32(env, argv[9], &to));
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topic, NULL);
  uint32_t i = from;
  for (; i < to; i++) {
    uint32_t start = i ? ends[i - 1] : 0;
    uint16_t pair = pair_of[i];
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "service", 7, header[2 * pair], header_len[2 * pair]);
    rd_kafka_header_add(h, "module", 6, header[2 * pair + 1], header_len[2 * pair + 1]);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partitions[i]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(values + start, ends[i] - start), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE((void *)(intptr_t)(sequence + i)), RD_KAFKA_V_END);
    if (err) {
      rd_kafka_headers_destroy(h);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_topic_destroy(rkt);
        napi_throw_error(env, NULL, rd_kafka_err2str(err));
        return NULL;
      }
      break;
    }
  }
  rd_kafka_topic_destroy(rkt);
  napi_value queued;
  CHECK(napi_create_uint32(env, i - from, &queued));
  return queued;
}

/* poll(p): the delivery reports since the last call, as (sequence, error code) pairs. */
static napi_value poll_reports(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  producer_t *p = producer_of(env, argv[0]);
  rd_kafka_poll(p->rk, 0);
  void *data;
  napi_value buffer, reports;
  CHECK(napi_create_arraybuffer(env, p->count * sizeof(int32_t), &data, &buffer));
  memcpy(data, p->reports, p->count * sizeof(int32_t));
  CHECK(napi_create_typedarray(env, napi_int32_array, p->count, buffer, 0, &reports));
  p->count = 0;
  return reports;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"produce", NULL, produce, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, poll_reports, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, functions);
  return exports;
}

NAPI_MODULE(batch_boundary, init)

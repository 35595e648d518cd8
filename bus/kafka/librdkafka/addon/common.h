/*
 * What the producer (producer.c) and the consumer (consumer.c) of Sluice's librdkafka addon
 * share: N-API error handling, growable arrays, librdkafka errors as JavaScript errors.
 */
#ifndef SLUICE_LIBRDKAFKA_COMMON_H
#define SLUICE_LIBRDKAFKA_COMMON_H
#define NAPI_VERSION 8
#include <librdkafka/rdkafka.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline napi_value throw_napi(napi_env env, const char *what) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char message[256];
  snprintf(message, sizeof message, "librdkafka addon: %s: %s", what,
           info && info->error_message ? info->error_message : "failed");
  napi_throw_error(env, NULL, message);
  return NULL;
}

#define CHECK(call)                                    \
  do {                                                 \
    if ((call) != napi_ok) return throw_napi(env, #call); \
  } while (0)

static inline void grow(void **items, size_t *capacity, size_t need, size_t size) {
  if (need <= *capacity) return;
  size_t next = *capacity ? *capacity : 1024;
  while (next < need) next *= 2;
  *items = realloc(*items, next * size);
  *capacity = next;
}

static inline napi_value error_value(napi_env env, rd_kafka_resp_err_t err, const char *message) {
  napi_value text, code, error;
  napi_create_string_utf8(env, message && *message ? message : rd_kafka_err2str(err), NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, error, "code", code);
  return error;
}

static inline char *string_or_null(napi_env env, napi_value v) {
  napi_valuetype type;
  size_t len;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_string) return NULL;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static inline void call_wake(napi_env env, napi_value js_callback, void *context, void *data) {
  (void)context;
  (void)data;
  if (env == NULL || js_callback == NULL) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_callback, 0, NULL, NULL);
}

/* librdkafka's config from parallel arrays of keys and values; NULL with an exception pending when refused. */
static inline rd_kafka_conf_t *conf_of(napi_env env, napi_value keys, napi_value values) {
  uint32_t n;
  char error[512];
  if (napi_get_array_length(env, keys, &n) != napi_ok) return throw_napi(env, "config"), NULL;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  for (uint32_t i = 0; i < n; i++) {
    napi_value k, v;
    char *key = NULL, *value = NULL;
    if (napi_get_element(env, keys, i, &k) == napi_ok && napi_get_element(env, values, i, &v) == napi_ok) {
      key = string_or_null(env, k);
      value = string_or_null(env, v);
    }
    if (!key || !value) {
      free(key);
      free(value);
      rd_kafka_conf_destroy(conf);
      napi_throw_type_error(env, NULL, "librdkafka addon: config keys and values must be strings");
      return NULL;
    }
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, error, sizeof error);
    free(key);
    free(value);
    if (res != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      napi_throw_error(env, NULL, error);
      return NULL;
    }
  }
  return conf;
}

/*
 * The text of an error librdkafka reports to error_cb, malloc'd; a fatal error (err __FATAL)
 * is replaced by the error that caused it, and *fatal says so.
 */
static inline char *error_text(rd_kafka_t *rk, int *err, const char *reason, int *fatal) {
  char fatal_reason[512];
  *fatal = *err == RD_KAFKA_RESP_ERR__FATAL;
  if (*fatal) {
    *err = rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
    reason = fatal_reason;
  }
  return strdup(reason ? reason : rd_kafka_err2str(*err));
}

/* A log line of librdkafka's, malloc'd: librdkafka logs to stderr unless told otherwise, and its warnings go to the bus's log instead. */
static inline char *log_text(const char *facility, const char *line) {
  size_t len = strlen(facility) + strlen(line) + 3;
  char *message = malloc(len);
  snprintf(message, len, "%s: %s", facility, line);
  return message;
}

/* Queues `data` on libuv's threadpool, `handle` kept alive until it completes: a promise, or NULL when N-API refused (the caller frees `data`). */
static inline napi_value queue_request(napi_env env, napi_value handle, void *data, napi_async_execute_callback execute,
                                       napi_async_complete_callback complete, napi_deferred *deferred, napi_ref *ref,
                                       napi_async_work *work) {
  napi_value promise, name;
  if (napi_create_promise(env, deferred, &promise) != napi_ok || napi_create_reference(env, handle, 1, ref) != napi_ok ||
      napi_create_string_utf8(env, "sluice-librdkafka", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, data, work) != napi_ok || napi_queue_async_work(env, *work) != napi_ok)
    return NULL;
  return promise;
}

/* Settles a request's promise with `outcome` and lets its handle and work go. */
static inline void settle_request(napi_env env, napi_deferred deferred, napi_ref ref, napi_async_work work, int failed, napi_value outcome) {
  if (failed)
    napi_reject_deferred(env, deferred, outcome);
  else
    napi_resolve_deferred(env, deferred, outcome);
  napi_delete_reference(env, ref);
  napi_delete_async_work(env, work);
}

/* The consumer's functions, added to the module's exports by producer.c's init. */
void consumer_register(napi_env env, napi_value exports);

#endif

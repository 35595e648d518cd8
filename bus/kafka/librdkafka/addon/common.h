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

/* The consumer's functions, added to the module's exports by producer.c's init. */
void consumer_register(napi_env env, napi_value exports);

#endif

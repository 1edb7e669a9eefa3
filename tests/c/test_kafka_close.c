/* test_kafka_close.c — a Kafka consumer's bounded close and end (core/kafka_close.c), against librdkafka's
 * in-process mock cluster: a consumer closes and is destroyed; one whose destroy cannot finish (a message
 * the application still holds keeps librdkafka's destroy waiting for ever) is left to the process's exit
 * after the bound instead of hanging the caller. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/kafka_close.h"
#include "state/state_clock.h"

static rd_kafka_t *producer;
static const char *boot;

/* A mock cluster of one broker (owned by the producer) with one message in topic "t". */
static int setup(void **unused) {
  (void)unused;
  char e[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  if (rd_kafka_conf_set(c, "test.mock.num.brokers", "1", e, sizeof e) ||
      rd_kafka_conf_set(c, "log_level", "3", e, sizeof e))
    return -1;
  if (!(producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e)))
    return -1;
  rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(producer);
  boot = rd_kafka_mock_cluster_bootstraps(mc);
  if (rd_kafka_mock_topic_create(mc, "t", 1, 1) ||
      rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_END) ||
      rd_kafka_flush(producer, 30000))
    return -1;
  return 0;
}

/* A consumer of "t" from its start, whose first message is returned in *m. */
static rd_kafka_t *consumer_with_message(rd_kafka_message_t **m) {
  char e[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", boot, e, sizeof e), RD_KAFKA_CONF_OK);
  assert_int_equal(rd_kafka_conf_set(c, "group.id", "g", e, sizeof e), RD_KAFKA_CONF_OK);
  assert_int_equal(rd_kafka_conf_set(c, "log_level", "3", e, sizeof e), RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
  assert_non_null(rk);
  assert_int_equal(rd_kafka_poll_set_consumer(rk), 0);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, "t", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, l), 0);
  rd_kafka_topic_partition_list_destroy(l);
  *m = NULL;
  for (int i = 0; i < 300 && !*m; i++) /* up to 30 s on a loaded machine */
    *m = rd_kafka_consumer_poll(rk, 100);
  assert_non_null(*m);
  assert_int_equal((*m)->err, 0);
  return rk;
}

static void closes_and_is_destroyed(void **unused) {
  (void)unused;
  rd_kafka_message_t *m;
  rd_kafka_t *rk = consumer_with_message(&m);
  rd_kafka_message_destroy(m);
  rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, "t", 0)->offset = 1;
  rd_kafka_resp_err_t commit_err = RD_KAFKA_RESP_ERR__FAIL;
  char why[256] = "";
  assert_int_equal(sl_kafka_consumer_close(rk, offsets, 30000, NULL, NULL, &commit_err, why, sizeof why),
                   SL_KAFKA_CLOSED);
  assert_int_equal(commit_err, RD_KAFKA_RESP_ERR_NO_ERROR); /* the commit's answer was waited for */
  rd_kafka_topic_partition_list_destroy(offsets);
  sl_kafka_end(rk, 1, 0, 30000, "test consumer");
}

/* Never destroyed: librdkafka's destroy waits for it. Static, so that it stays reachable to a leak checker
 * (as the handle does, in kafka_close.c's list). */
static rd_kafka_message_t *held;

static void a_destroy_that_cannot_finish_is_left_after_the_bound(void **unused) {
  (void)unused;
  rd_kafka_t *rk = consumer_with_message(&held);
  rd_kafka_resp_err_t commit_err;
  char why[256] = "";
  assert_int_equal(sl_kafka_consumer_close(rk, NULL, 30000, NULL, NULL, &commit_err, why, sizeof why),
                   SL_KAFKA_CLOSED);
  uint64_t t0 = sl_monotonic_ms();
  sl_kafka_end(rk, 1, 0, 1000, "test consumer");
  uint64_t took = sl_monotonic_ms() - t0;
  assert_true(took >= 1000); /* it was waited for up to the bound */
  assert_true(took < 60000); /* and no longer: without the bound this call never returns */
}

static int teardown(void **unused) {
  (void)unused;
  rd_kafka_destroy(producer);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(closes_and_is_destroyed),
      cmocka_unit_test(a_destroy_that_cannot_finish_is_left_after_the_bound),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Swift cannot call C variadic functions: pushes one (error, delay) pair on a mock broker's
   error stack for requests of type api_key. */
static inline rd_kafka_resp_err_t iak_mock_broker_push_request_error(
    rd_kafka_mock_cluster_t *cluster, int32_t broker_id, int16_t api_key,
    rd_kafka_resp_err_t error, int delay_ms) {
  return rd_kafka_mock_broker_push_request_error_rtts(cluster, broker_id, api_key, 1, error,
                                                      delay_ms);
}

/**
 * The connection settings of every RabbitMQ connection of the apps (passed through Nest's RMQ
 * transport and amqp-connection-manager to amqplib).
 *
 * `noDelay`: amqplib leaves Nagle's algorithm on by default. A publish is written as several small
 * frames (method, header, body), and a consumer's acknowledgement is one small frame; with Nagle
 * each waits for the TCP acknowledgement of the previous segment, which the broker's side delays by
 * up to 40 ms. Measured at 1,000 records/s: a confirmed publish took 45 ms on average with Nagle
 * and a few ms without it (docs/performance.md).
 */
export const RMQ_SOCKET_OPTIONS = {
  heartbeatIntervalInSeconds: 5,
  reconnectTimeInSeconds: 1,
  connectionOptions: { noDelay: true },
};

/**
 * A node's Prometheus metrics ({@link org.dsparse.actors.metrics.NodeMetrics}): process and JVM,
 * the kernel's memory charge, membership, and what its devices and jobs report. Every package that
 * reports a figure (device, job, tls) writes here; this package depends on none of them, only on
 * {@code shard} for the shards' sizes, so that reporting closes no cycle.
 */
package org.dsparse.actors.metrics;

/**
 * The cluster closed to strangers: a cluster's own certificate authority and its devices'
 * certificates as PEM files ({@link org.dsparse.actors.tls.ClusterCertificates}, what {@code
 * node-app certs} issues), and mutual TLS 1.3 on them for Artery ({@link
 * org.dsparse.actors.tls.ClusterTls}, {@link org.dsparse.actors.tls.ClusterSslEngineProvider}) and
 * for the collectives' data links ({@link org.dsparse.actors.tls.DataLinkTls}), trusting only the
 * cluster's CA and reporting every refused peer ({@link org.dsparse.actors.tls.ClusterTrust}).
 *
 * <p>A leaf of the actors module, on the JDK, BouncyCastle and Pekko only: it must not depend on the
 * job, device, step, collective, shard or dashboard packages, on DJL, or on the protocol and
 * training modules; node start-up and the collectives use it, not the other way round. Its one use
 * of another actors package is {@code org.dsparse.actors.metrics.NodeMetrics}, to count refused peers.
 */
package org.dsparse.actors.tls;

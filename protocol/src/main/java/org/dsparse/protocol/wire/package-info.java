/**
 * Pieces every dsparse serializer shares: the serializer skeleton ({@code WireSerializer}), pooled
 * Kryo instances, actor-reference resolution and the traffic counters.
 */
package org.dsparse.protocol.wire;

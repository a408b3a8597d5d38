/** Pieces every dsparse serializer shares: pooled Kryo instances and actor-reference resolution. */
package org.dsparse.protocol.wire;

/**
 * Control messages (job set-up, steps, metrics, layer shards) and their wire format: Kryo over
 * records, restricted to dsparse's own classes and a few JDK value types, with actor references
 * written as their serialized paths.
 */
package org.dsparse.protocol.control;

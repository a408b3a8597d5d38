package org.dsparse.protocol.control;

import org.dsparse.protocol.wire.WireTraffic;

/**
 * Marks a message that crosses the network through {@link ControlSerializer}. Implementations are
 * records (or enums) whose fields are primitives, strings, lists, maps, optionals, other dsparse
 * records, or typed actor references.
 */
public interface ControlMessage {
  /** The {@link WireTraffic} channel its bytes count on: control, unless it carries shard weights. */
  default String wireChannel() {
    return WireTraffic.CONTROL;
  }
}

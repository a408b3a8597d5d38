package org.dsparse.protocol.control;

/**
 * Marks a message that crosses the network through {@link ControlSerializer}. Implementations are
 * records (or enums) whose fields are primitives, strings, lists, maps, optionals, other dsparse
 * records, or typed actor references.
 */
public interface ControlMessage {}

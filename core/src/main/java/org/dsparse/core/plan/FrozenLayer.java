package org.dsparse.core.plan;

/** A layer no device can update, with why. */
public record FrozenLayer(int layer, String name, String reason) {}

package org.dsparse.core.collective;

/** One chunk moving between neighbours: chunk {@code chunk} of the part handled at {@code step}. */
public record Transfer(int step, int chunk) {}

package org.dsparse.core.collective;

/** A contiguous slice {@code [offset, offset + length)} of the collective's buffer. */
public record Region(int offset, int length) {}

package org.dsparse.training.profile;

/**
 * What a child JVM measured.
 *
 * @param baselineRssBytes resident size just before the model was built
 * @param peakRssBytes the kernel's peak resident size while training
 * @param measuredBytes {@code peakRssBytes - baselineRssBytes}: the training memory
 * @param heapUsedBytes Java heap in use at the end (inside the fixed heap, so already in the baseline)
 * @param updatedLayers the layers that were updated, by name
 * @param updatedParams their trainable parameters
 * @param millisPerStep mean wall time of a step after the first
 */
public record ProfileResult(
    long baselineRssBytes,
    long peakRssBytes,
    long measuredBytes,
    long heapUsedBytes,
    java.util.List<String> updatedLayers,
    long updatedParams,
    double millisPerStep) {}

/**
 * Gradient compression for a process group's AllReduce, pure math: the Count-Sketch and its
 * heavy-hitter recovery ({@link org.dsparse.core.compression.CountSketch}), a primitive top-k
 * ({@link org.dsparse.core.compression.TopK}), the error-feedback residual
 * ({@link org.dsparse.core.compression.ErrorFeedback}), gs-SGD's two-round exchange on one member
 * ({@link org.dsparse.core.compression.SketchedGradients}) and the Top-k baseline
 * ({@link org.dsparse.core.compression.TopKGradients}), and the settings and sizes a job chooses
 * ({@link org.dsparse.core.compression.Compression}). The step pipeline runs the collectives
 * between the rounds; nothing here knows about them.
 */
package org.dsparse.core.compression;

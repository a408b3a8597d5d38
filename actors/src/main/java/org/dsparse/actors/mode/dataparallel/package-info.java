/**
 * The data-parallel modes, the full update and DSparse ({@link
 * org.dsparse.actors.mode.dataparallel.DataParallelMode}): their plans
 * ({@link org.dsparse.actors.mode.dataparallel.DataParallelPlanning}), a device's runtime and its
 * step, read top to bottom in this order: {@link org.dsparse.actors.mode.dataparallel.DataParallelStep}
 * (the stages), {@link org.dsparse.actors.mode.dataparallel.Backward} (forward and backward),
 * {@link org.dsparse.actors.mode.dataparallel.GradientReducer} (the gradients' AllReduces, as DDP's
 * Reducer) and {@link org.dsparse.actors.mode.dataparallel.CompressedGradients} (gs-SGD's sketch or
 * Top-k, the math in {@code org.dsparse.core.compression}). The tile mode reuses the step with a
 * backward of its own.
 */
package org.dsparse.actors.mode.dataparallel;

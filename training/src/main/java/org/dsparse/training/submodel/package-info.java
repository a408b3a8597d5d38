/**
 * Sub-model training on DJL tensors (Chen and Qin 2020): {@link
 * org.dsparse.training.submodel.SubModels} copies a device's sub-model (a {@link
 * org.dsparse.core.submodel.SubModelSpec}) out of the full model and puts trained ones back,
 * weighted by the devices' data; {@link org.dsparse.training.submodel.SubModelSizing} finds the
 * largest sub-model whose training fits a device's budget as the {@link
 * org.dsparse.core.memory.MemoryModel} predicts it; {@link
 * org.dsparse.training.submodel.BatchNormStatistics} measures the assembled model's BatchNorm
 * statistics again over data the devices hold apart.
 *
 * <p>It builds on {@code org.dsparse.training.model} and on core's specs only. It must not depend
 * on the trainer, the profiler or the tiling packages of this module, and knows nothing of actors,
 * messages or how the devices' contributions travel: the caller sums them.
 */
package org.dsparse.training.submodel;

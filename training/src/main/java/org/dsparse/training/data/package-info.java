/**
 * Training data as DJL tensors: {@link org.dsparse.training.data.ImageSetDataset} turns a
 * {@link org.dsparse.core.data.ImageSet} into normalized float NCHW batches in a seeded order,
 * and {@link org.dsparse.training.data.EmbeddedFashionMnist} loads the Fashion-MNIST subset
 * shipped in this jar. Tensors are created on the caller's thread only: DJL work stays on the
 * trainer's single thread.
 */
package org.dsparse.training.data;

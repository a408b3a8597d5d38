/**
 * Training data without any ML library: readers for the IDX (Fashion-MNIST) and CIFAR-10 binary
 * formats, the in-memory {@link org.dsparse.core.data.ImageSet}, locating datasets on disk, the
 * per-epoch sample order and splitting a dataset across devices (IID or Dirichlet non-IID).
 *
 * <p>Format problems are reported as {@link org.dsparse.core.data.DatasetFormatException}, whose
 * message always names the file and what was expected versus found.
 */
package org.dsparse.core.data;

/**
 * The sparse-update trainer, usable without any actor: forward through a frozen prefix without
 * recording (in micro-batches, so its working set stays small), backward only through the updated
 * layers, then a gap where gradients can leave and
 * return as flat buffers (a collective sits there), then the optimizer step. {@link
 * org.dsparse.training.trainer.DjlThread} pins every DJL call of the JVM to one thread, because DJL
 * allows one gradient collector per JVM and PyTorch's grad mode is per thread.
 */
package org.dsparse.training.trainer;

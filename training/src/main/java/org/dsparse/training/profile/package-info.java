/**
 * Measuring what training really costs: a child JVM trains a layer set for a few steps and reports
 * its peak resident-memory growth, which calibrates and checks the memory model.
 *
 * <p>How it measures: the child runs with a fixed, pre-touched Java heap (so heap use never changes
 * its resident size) and with glibc told to serve allocations above 64 KiB by mmap and to trim freed
 * memory at once (so freed tensors leave the resident set). After a warm-up that JIT-compiles the
 * training path and initialises PyTorch, it records its resident size, resets the kernel's peak
 * counter ({@code /proc/self/clear_refs}), builds the model and trains; the measurement is the peak
 * ({@code VmHWM}) minus that baseline: weights, gradients, optimizer state, activations and
 * temporaries, native and Java alike.
 */
package org.dsparse.training.profile;

/**
 * The edge lab's view of the Linux kernel: what memory the kernel charges a process and its cgroup,
 * read from {@code /proc} and cgroup v1's {@code /sys/fs/cgroup/memory} files.
 *
 * <p>Plain Java with no framework: the parsing takes the files' text, so it is tested on text, and a
 * node's metrics and a lab that confines devices to memory groups read the same figures.
 */
package org.dsparse.core.lab;

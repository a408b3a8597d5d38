/**
 * The edge lab: devices as the kernel enforces them on one machine, and the kernel's account of them.
 *
 * <p>A {@link org.dsparse.core.lab.LabProfile} names a board's RAM, its share of a core and its link,
 * scaled so that a seven-device lab fits a two-core machine; {@link org.dsparse.core.lab.JvmSizing}
 * chooses a node's JVM settings from the RAM it has; {@link org.dsparse.core.lab.MemoryRoom} what is left
 * for training; {@link org.dsparse.core.lab.KernelMemory} reads what the kernel charges a process and its
 * cgroup v1 memory group from {@code /proc} and {@code /sys/fs/cgroup/memory} text.
 *
 * <p>Plain Java with no framework: the parsing takes the files' text, so it is tested on text, and a
 * node's metrics and the lab that confines devices read the same figures. The cgroups themselves are
 * made by whoever launches the device processes.
 */
package org.dsparse.core.lab;

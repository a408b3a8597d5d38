/**
 * The edge lab: devices as the kernel enforces them on one machine.
 *
 * <p>A {@link org.dsparse.core.lab.LabProfile} names a board's RAM, its share of a core and its link,
 * scaled so that a seven-device lab fits a two-core machine; {@link org.dsparse.core.lab.JvmSizing}
 * chooses a node's JVM settings from the RAM it has. Pure arithmetic and text parsing: the cgroups
 * themselves are made by whoever launches the device processes.
 */
package org.dsparse.core.lab;

/**
 * Experiments on one machine: a cluster of devices on loopback, in this JVM or one JVM per device
 * (the real deployment shape, and the only way to measure each device's memory), running the same
 * job in the full-update and DSparse modes from the same seed and data order, optionally from a
 * checkpoint pre-trained on a held-out share of the data. Results go to {@code results/<name>.json}
 * with a plain-text comparison.
 */
package org.dsparse.simulator;

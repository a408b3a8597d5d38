/**
 * Benchmarks run by the scripts in {@code bench/}: each starts real member processes on loopback,
 * measures side by side with a plain-socket baseline in the same run, and writes JSON to
 * {@code results/}.
 */
package org.dsparse.simulator.bench;

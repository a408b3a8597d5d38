/**
 * The memory model: what training a given set of layers costs a device, in bytes, before it trains.
 *
 * <p>Pure arithmetic over {@link org.dsparse.core.memory.LayerCost}s (which the training module derives
 * from a real network's shapes) and a few coefficients calibrated against measured runs
 * ({@link org.dsparse.core.memory.MemoryCoefficients}). The planner asks it for every candidate plan.
 */
package org.dsparse.core.memory;

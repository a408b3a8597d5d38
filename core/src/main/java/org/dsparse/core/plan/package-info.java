/**
 * The DSparse planner: which device updates which layers (or which output channels of a layer), and
 * the process groups that follow from it.
 *
 * <p>Input is the model's {@link org.dsparse.core.memory.MemoryModel}, each device's
 * {@link org.dsparse.core.plan.DeviceBudget}, each layer's {@link org.dsparse.core.plan.Importance}
 * and {@link org.dsparse.core.plan.PlannerSettings}; output is a {@link org.dsparse.core.plan.Plan}.
 * Layers (or channel slices) updated by the same {@link org.dsparse.core.plan.UpdaterSet} form one
 * {@link org.dsparse.core.plan.ProcessGroupSpec}: AllReduce among two or more updaters, Broadcast
 * from a single owner. Devices outside a group receive its weights every refresh interval.
 *
 * <p>Two strategies: the paper's memory-only suffix plan (the baseline), and a communication-aware
 * plan that trades how many devices update each layer against the predicted aggregation time of a
 * step. Pure Java and deterministic: the same input always yields the same plan.
 */
package org.dsparse.core.plan;

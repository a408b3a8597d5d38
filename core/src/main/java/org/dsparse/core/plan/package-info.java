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
 * <p>Strategies ({@link org.dsparse.core.plan.PlanStrategy}): the paper's memory-only suffix plan
 * (the baseline), a communication-aware plan that trades how many devices update each layer against
 * the predicted aggregation time of a step, the shared tail (a shape that suits fine-tuning), and the
 * uniform tail, the on-device fine-tuning baseline that updates the same last layers on every device
 * and leaves the layers below frozen. Pure Java and deterministic: the same input always yields the
 * same plan.
 */
package org.dsparse.core.plan;

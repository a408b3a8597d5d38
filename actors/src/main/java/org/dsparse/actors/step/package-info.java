/**
 * One device's training step as a plain pipeline, outside the actor. Read one step in this order:
 * {@link org.dsparse.actors.device.Device} receives {@code RunStep} and hands it to
 * {@link org.dsparse.actors.step.StepPipeline#run}, which calls the
 * {@link org.dsparse.training.trainer.SparseTrainer} for the model work (on {@link
 * org.dsparse.actors.step.Compute}, the DJL thread) and {@link org.dsparse.actors.collective.Collectives}
 * for the AllReduces and Broadcasts, which the device's
 * {@link org.dsparse.actors.collective.ProcessGroup} actors run; the pipeline's one outcome comes
 * back to the device as one message, which answers the coordinator with one {@code StepCompleted}
 * or one failure naming the stage, group and member.
 *
 * <p>{@link org.dsparse.actors.step.DeviceGroups} is the device's part of the plan's groups: the
 * collectives it is a member of and what each carries. A group whose gradients compress
 * ({@code dsparse.job.compression}) goes through {@link org.dsparse.actors.step.CompressedGradients}
 * instead of one AllReduce: gs-SGD's two AllReduces or Top-k's AllGather, the math in
 * {@code org.dsparse.core.compression}. The pipeline is tested without a cluster
 * behind an in-memory {@code Collectives}; the simulator slows a device down by wrapping its
 * {@code Compute}.
 */
package org.dsparse.actors.step;

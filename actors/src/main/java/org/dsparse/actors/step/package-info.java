/**
 * What every training mode is made of, and the one way a step runs. A mode implements
 * {@link org.dsparse.actors.step.TrainingMode}: it plans a job from a
 * {@link org.dsparse.actors.step.Planning} and prepares each device's
 * {@link org.dsparse.actors.step.ModeRuntime} from a {@link org.dsparse.actors.step.Preparation}
 * (with {@link org.dsparse.actors.step.DeviceSetUp}'s shared loading), which builds the device's
 * {@link org.dsparse.actors.step.DeviceStep}. Every step runs its model work through a
 * {@link org.dsparse.actors.step.StageRunner} (on {@link org.dsparse.actors.step.Compute}, the DJL
 * thread: cancel, timing, a {@link org.dsparse.actors.step.StageFailure} naming the stage) and its
 * collectives through {@code org.dsparse.actors.collective.Collectives}, and answers one
 * {@link org.dsparse.actors.step.StepResult}.
 *
 * <p>Read one step in this order: {@code org.dsparse.actors.device.Device} receives {@code RunStep}
 * and hands it to its mode's {@code DeviceStep}; the step's one outcome comes back to the device as
 * one message, which answers the coordinator with one {@code StepCompleted} or one failure naming
 * the stage, group and member. {@link org.dsparse.actors.step.DeviceGroups} is the device's part of
 * the plan's groups: the collectives it is a member of and what each carries.
 *
 * <p>No mode lives here, and nothing here asks which mode a job is in; this package depends on
 * {@code collective} and {@code plan} only, within the actors module.
 */
package org.dsparse.actors.step;

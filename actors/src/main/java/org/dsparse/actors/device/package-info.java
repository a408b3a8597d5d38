/**
 * The Device actor, one per node: {@link org.dsparse.actors.device.Device} announces the device
 * under its service key, takes a job's set-up, steps, evaluations and checkpoints from the job
 * coordinator, lets the job's training mode prepare its runtime ({@code org.dsparse.actors.step.ModeRuntime}),
 * forms the device's process groups and runs each step through the mode's step; the runtime holds
 * the DJL side (model replica, data shard, trainer) on the DJL thread, {@code CommittedState} the
 * last state every device agreed on, which a job rolls back to or fetches from a peer
 * ({@link org.dsparse.actors.device.StateFetcher}); {@link org.dsparse.actors.device.DeviceSettings}
 * is the device's name and memory budget from {@code dsparse.device}.
 *
 * <p>It builds on the collective, step, mode, shard and metrics packages and on core, protocol and
 * training. It must not depend on the job, node, dashboard or TLS packages, which start and address
 * devices, nor on the applications (simulator, node-app) that start it.
 */
package org.dsparse.actors.device;

/**
 * The Device actor, one per node: {@link org.dsparse.actors.device.Device} announces the device
 * under its service key, takes a job's set-up, steps, evaluations and checkpoints from the job
 * coordinator, forms the device's process groups and runs each step through the step pipeline;
 * {@code DeviceRuntime} holds the DJL side (model replica, data shard, trainer) on the DJL thread,
 * {@code CommittedState} the last state every device agreed on, which a job rolls back to or
 * fetches from a peer ({@code StateFetcher}); {@link org.dsparse.actors.device.DeviceSettings} is
 * the device's name and memory budget from {@code dsparse.device}.
 *
 * <p>It builds on the collective, step, shard and job-planning packages and on core, protocol and
 * training. It must not depend on the dashboard or TLS packages, nor on the applications (simulator,
 * node-app) that start it. Its uses of {@code org.dsparse.actors.job} ({@code JobPlanning}) and
 * {@code org.dsparse.actors.node} ({@code NodeMetrics}) close package cycles with those two
 * packages, which start and address devices.
 */
package org.dsparse.actors.device;

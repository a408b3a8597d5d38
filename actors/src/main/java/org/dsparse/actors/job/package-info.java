/**
 * A training job on the cluster: {@link org.dsparse.actors.job.JobPlanning} loads what a plan needs
 * and lets the job's training mode plan it, and the {@link org.dsparse.actors.job.JobCoordinator}
 * drives the devices through synchronous steps, evaluates after each epoch, saves checkpoints and
 * reports progress and metrics. Nothing here asks which mode a job is in.
 */
package org.dsparse.actors.job;

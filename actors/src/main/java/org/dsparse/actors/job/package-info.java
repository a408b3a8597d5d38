/**
 * A training job on the cluster: {@link org.dsparse.actors.job.JobPlanning} turns the devices'
 * budgets into a plan (DSparse's memory-aware sparse update, or the full-update baseline), and the
 * {@link org.dsparse.actors.job.JobCoordinator} drives the devices through synchronous steps,
 * evaluates after each epoch, saves checkpoints and reports progress and metrics.
 */
package org.dsparse.actors.job;

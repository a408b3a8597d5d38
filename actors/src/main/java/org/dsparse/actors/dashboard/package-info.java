/**
 * The job dashboard: {@link org.dsparse.actors.dashboard.Dashboard} serves a live web page (Pekko
 * HTTP, server-sent events) of the jobs a node submits, built from the
 * {@link org.dsparse.actors.job.JobEvent}s their coordinator sends the submitter, and saves it as a
 * self-contained page after the run; {@code DashboardJson} is each event as the page reads it. The
 * simulator and node-app open it; nothing in the actors module depends on it.
 *
 * <p>It only reads events: it must depend on nothing of actors but the job package's events and
 * reports, and on nothing of the device, step, collective, shard, node or TLS packages, of DJL or of
 * the training module, so that watching a job can never change it.
 */
package org.dsparse.actors.dashboard;

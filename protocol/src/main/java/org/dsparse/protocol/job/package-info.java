/**
 * The training job's protocol between the job coordinator and the Device actors: set-up with the
 * plan, synchronous steps, evaluation, checkpoints, and the metrics each step reports. Every message
 * is a {@link org.dsparse.protocol.control.ControlMessage}.
 */
package org.dsparse.protocol.job;

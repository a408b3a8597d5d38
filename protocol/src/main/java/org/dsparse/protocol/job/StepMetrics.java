package org.dsparse.protocol.job;

import org.dsparse.protocol.control.ControlMessage;

/**
 * One device's account of one step.
 *
 * @param loss mean training loss of its batch
 * @param computeMillis forward, backward, gradient export/import and optimizer step
 * @param allReduceMillis wall time of its AllReduces (run concurrently)
 * @param broadcastMillis wall time of its refresh Broadcasts
 * @param allReduceBytes bytes it contributed to AllReduces
 * @param broadcastBytes bytes of Broadcasts it sent or received
 * @param trainingBytes resident growth since before the model was built (current)
 * @param peakTrainingBytes the same at its peak so far
 */
public record StepMetrics(
    float loss,
    double computeMillis,
    double allReduceMillis,
    double broadcastMillis,
    long allReduceBytes,
    long broadcastBytes,
    long trainingBytes,
    long peakTrainingBytes) implements ControlMessage {

  public double aggregationMillis() {
    return allReduceMillis + broadcastMillis;
  }
}

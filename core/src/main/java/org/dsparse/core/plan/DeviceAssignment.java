package org.dsparse.core.plan;

import org.dsparse.core.memory.UpdateSet;

/** What one device updates, and the memory model's predicted peak for it against its budget. */
public record DeviceAssignment(String device, UpdateSet update, long predictedPeakBytes, long budgetBytes) {
  public double budgetUse() {
    return (double) predictedPeakBytes / budgetBytes;
  }
}

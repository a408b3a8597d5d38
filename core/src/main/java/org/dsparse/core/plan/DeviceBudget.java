package org.dsparse.core.plan;

import java.util.Objects;

/** The memory a device can give to training, in bytes. */
public record DeviceBudget(String device, long budgetBytes) {
  public DeviceBudget {
    Objects.requireNonNull(device, "device");
    if (device.isBlank()) {
      throw new IllegalArgumentException("device name must not be blank");
    }
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException(
          "device " + device + ": memory budget must be positive, got " + budgetBytes + " bytes");
    }
  }
}

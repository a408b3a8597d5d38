package org.dsparse.actors.plan;

/** A plan refused before any device trains, naming the device it does not fit. */
public final class PlanRefused extends IllegalArgumentException {
  private final String device;

  public PlanRefused(String device, String message) {
    super(message);
    this.device = device;
  }

  public String device() {
    return device;
  }
}

package org.dsparse.core.memory;

import java.util.Locale;

/** Optimizers by the state they keep per updated parameter, which is what the memory model needs. */
public enum OptimizerKind {
  SGD(0),
  SGD_MOMENTUM(1),
  ADAM(2);

  private final int stateTensorsPerParam;

  OptimizerKind(int stateTensorsPerParam) {
    this.stateTensorsPerParam = stateTensorsPerParam;
  }

  /** Tensors of the parameter's size the optimizer keeps between steps (momentum; Adam's two moments). */
  public int stateTensorsPerParam() {
    return stateTensorsPerParam;
  }

  /** Parses {@code sgd}, {@code sgd-momentum} or {@code adam}, case-insensitively. */
  public static OptimizerKind parse(String text) {
    String key = text.trim().toUpperCase(Locale.ROOT).replace('-', '_');
    for (OptimizerKind kind : values()) {
      if (kind.name().equals(key)) {
        return kind;
      }
    }
    throw new IllegalArgumentException(
        "unknown optimizer '" + text + "': expected sgd, sgd-momentum or adam");
  }
}

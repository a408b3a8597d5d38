package org.dsparse.training.profile;

import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.training.model.Shapes;

/**
 * One measured configuration.
 *
 * @param model a name known to {@link org.dsparse.training.model.Models}
 * @param sampleShape one sample, CxHxW
 * @param classes output classes
 * @param batch samples per step
 * @param update the layers to update, as {@link org.dsparse.core.memory.UpdateSet#parse} reads them
 * @param optimizer the optimizer whose state is kept
 * @param steps training steps to run (the first builds the gradients and optimizer state)
 * @param frozenPrefixMicroBatch samples per forward of the frozen prefix, 0 for the whole batch
 */
public record ProfileRequest(
    String model, Shape sampleShape, int classes, int batch, String update, OptimizerKind optimizer,
    int steps, int frozenPrefixMicroBatch) {

  public ProfileRequest {
    if (batch <= 0 || steps <= 0 || classes <= 1 || frozenPrefixMicroBatch < 0) {
      throw new IllegalArgumentException("batch and steps must be positive, classes above 1 and the"
          + " frozen-prefix micro-batch non-negative: " + batch + ", " + steps + ", " + classes + ", "
          + frozenPrefixMicroBatch);
    }
  }

  /** The same configuration with another update set. */
  public ProfileRequest withUpdate(String otherUpdate) {
    return new ProfileRequest(model, sampleShape, classes, batch, otherUpdate, optimizer, steps, frozenPrefixMicroBatch);
  }

  /** The same configuration at another batch size. */
  public ProfileRequest withBatch(int otherBatch) {
    return new ProfileRequest(model, sampleShape, classes, otherBatch, update, optimizer, steps, frozenPrefixMicroBatch);
  }

  List<String> toArgs() {
    List<String> args = new ArrayList<>();
    args.add(model);
    args.add(Shapes.format(sampleShape));
    args.add(Integer.toString(classes));
    args.add(Integer.toString(batch));
    args.add(update);
    args.add(optimizer.name());
    args.add(Integer.toString(steps));
    args.add(Integer.toString(frozenPrefixMicroBatch));
    return args;
  }

  static ProfileRequest fromArgs(String[] args) {
    if (args.length != 8) {
      throw new IllegalArgumentException("expected 8 arguments, got " + args.length);
    }
    return new ProfileRequest(args[0], Shapes.parse(args[1]), Integer.parseInt(args[2]),
        Integer.parseInt(args[3]), args[4], OptimizerKind.valueOf(args[5]), Integer.parseInt(args[6]),
        Integer.parseInt(args[7]));
  }
}

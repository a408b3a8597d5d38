package org.dsparse.training.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;

/**
 * The JVM's gradient collector, shared. DJL's PyTorch engine lets one collector record at a time,
 * but a tile group's step keeps recording while it waits for the other members, and the simulator
 * runs several devices in one JVM, whose steps then interleave on the DJL thread. Each step takes a
 * recording; the first opens the engine's collector, the last to close closes it. A backward is the
 * engine's own on the tensors given, whichever recording asks for it. DJL thread only.
 */
public final class Recording implements GradientCollector {
  private static GradientCollector open;
  private static int users;
  private boolean closed;

  private Recording() {}

  /** A recording for one step; close it when the step's backward is done. */
  public static Recording start() {
    DjlThread.checkCurrent();
    if (users++ == 0) {
      open = Engine.getInstance().newGradientCollector();
    }
    return new Recording();
  }

  @Override
  public void backward(NDArray target) {
    if (closed) {
      throw new IllegalStateException("backward on a closed recording");
    }
    open.backward(target);
  }

  /** Not offered: it would zero every device's gradients in the JVM. */
  @Override
  public void zeroGradients() {
    throw new UnsupportedOperationException("a shared recording does not zero the JVM's gradients");
  }

  @Override
  public void close() {
    DjlThread.checkCurrent();
    if (closed) {
      return;
    }
    closed = true;
    if (--users == 0) {
      open.close();
      open = null;
    }
  }
}

package org.dsparse.training.trainer;

/**
 * JVM-wide DJL settings every dsparse program wants unless the user set them: no network (the
 * PyTorch native library ships in the jars; nothing may download at run time).
 */
public final class DjlDefaults {
  private DjlDefaults() {}

  /** Call first thing in a main method, before DJL loads. */
  public static void apply() {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
  }
}

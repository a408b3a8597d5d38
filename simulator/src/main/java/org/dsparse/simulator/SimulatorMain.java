package org.dsparse.simulator;

import java.util.Arrays;
import org.dsparse.training.profile.ProfileCommand;

/** Entry of the simulator jar. */
public final class SimulatorMain {
  private SimulatorMain() {}

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("profile")) {
      ProfileCommand.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    System.err.println("usage: simulator profile ...");
    System.exit(2);
  }
}

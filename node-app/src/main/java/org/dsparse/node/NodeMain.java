package org.dsparse.node;

import java.util.Arrays;
import org.dsparse.training.profile.ProfileCommand;

/** Entry of the node-app jar. */
public final class NodeMain {
  private NodeMain() {}

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("profile")) {
      ProfileCommand.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    System.err.println("usage: node-app profile ...");
    System.exit(2);
  }
}

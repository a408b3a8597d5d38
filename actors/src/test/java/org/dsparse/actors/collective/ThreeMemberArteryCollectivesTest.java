package org.dsparse.actors.collective;

/** The same contract with chunks carried by Artery messages instead of the TCP data links. */
class ThreeMemberArteryCollectivesTest extends CollectiveClusterContract {
  @Override
  int members() {
    return 3;
  }

  @Override
  String configOverrides() {
    return "dsparse.collective { transport = artery, chunk-size = 128 KiB }";
  }

  @Override
  boolean overTcp() {
    return false;
  }
}

package org.dsparse.actors.collective;

class SevenMemberCollectivesTest extends CollectiveClusterContract {
  @Override
  int members() {
    return 7;
  }
}

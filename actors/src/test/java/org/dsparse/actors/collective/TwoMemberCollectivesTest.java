package org.dsparse.actors.collective;

class TwoMemberCollectivesTest extends CollectiveClusterContract {
  @Override
  int members() {
    return 2;
  }
}

package org.dsparse.actors.collective;

class ThreeMemberCollectivesTest extends CollectiveClusterContract {
  @Override
  int members() {
    return 3;
  }
}

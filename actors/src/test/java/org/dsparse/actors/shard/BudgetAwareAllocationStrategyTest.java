package org.dsparse.actors.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Await;
import scala.jdk.javaapi.CollectionConverters;

/** The strategy on a one-node cluster whose directory knows no device. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BudgetAwareAllocationStrategyTest {
  private ActorTestKit node;

  @BeforeAll
  void start() {
    node = ActorTestKit.create("strategy", ConfigFactory.parseString("""
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical { hostname = 127.0.0.1, port = 0 }
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load()));
    Cluster cluster = Cluster.get(node.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    node.createTestProbe().awaitAssert(Duration.ofSeconds(20), () -> {
      assertEquals(MemberStatus.up(), cluster.selfMember().status());
      return null;
    });
  }

  @AfterAll
  void stop() {
    node.shutdownTestKit();
  }

  @Test
  void withoutDevicesAShardGoesToTheRegionHostingFewest() throws Exception {
    ActorRef busy = region();
    ActorRef idle = region();
    ActorRef some = region();
    var strategy = new BudgetAwareAllocationStrategy(node.system());
    ActorRef chosen = Await.result(strategy.allocateShard(busy, "g9",
        Map.of(busy, shards("g1", "g2"), idle, shards(), some, shards("g3"))),
        scala.concurrent.duration.Duration.create(10, "s"));
    assertEquals(idle, chosen);
  }

  @Test
  void withoutDevicesNothingIsRebalanced() throws Exception {
    ActorRef busy = region();
    ActorRef idle = region();
    var strategy = new BudgetAwareAllocationStrategy(node.system());
    var moves = Await.result(strategy.rebalance(Map.of(busy, shards("g1", "g2", "g3"), idle, shards()), Set.of()),
        scala.concurrent.duration.Duration.create(10, "s"));
    assertEquals(Set.of(), moves);
  }

  private ActorRef region() {
    return Adapter.toClassic(node.createTestProbe().getRef());
  }

  private static IndexedSeq<String> shards(String... ids) {
    return CollectionConverters.asScala(List.of(ids)).toIndexedSeq();
  }
}

package org.dsparse.actors.node;

import com.typesafe.config.Config;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.actors.device.Device;
import org.dsparse.actors.device.DeviceSettings;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobCoordinator;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.metrics.NodeMetrics;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.tls.ClusterTls;
import org.dsparse.core.cli.Ports;

/**
 * A running node: its ActorSystem, with a Device and a guardian that coordinates jobs submitted here.
 * Settings are validated before the system starts, so a bad config fails fast with its key named.
 */
public final class DsparseNode implements AutoCloseable {

  /** The guardian's protocol: jobs submitted on this node. */
  public sealed interface Command {}

  /** Coordinates {@code job} from this node; its events go to {@code client}. */
  public record SubmitJob(JobConfig job, ActorRef<JobEvent> client) implements Command {}

  private final ActorSystem<Command> system;
  /** Null on a node that only coordinates. */
  private final DeviceSettings device;

  private DsparseNode(ActorSystem<Command> system, DeviceSettings device) {
    this.system = system;
    this.device = device;
  }

  /** Validates {@code config} and starts a node with a device. */
  public static DsparseNode start(Config config) {
    return start(config, Compute.DJL_THREAD);
  }

  /** Validates {@code config} and starts a node with a device whose model work runs on {@code compute}. */
  public static DsparseNode start(Config config, Compute compute) {
    DeviceSettings device = DeviceSettings.fromConfig(config);
    CollectiveSettings collectives = CollectiveSettings.fromConfig(config);
    Config withRole = NodeMetrics.withFreePort(secured(config)).withValue("pekko.cluster.roles",
        com.typesafe.config.ConfigValueFactory.fromIterable(java.util.List.of(LayerShard.HOST_ROLE)));
    ActorSystem<Command> system = ActorSystem.create(guardian(device, collectives, compute, withRole),
        NodeConfig.SYSTEM_NAME, withRole);
    NodeMetrics.get(withMetrics(system)).deviceStarted(device.name(), device.budgetBytes());
    return new DsparseNode(system, device);
  }

  /**
   * Starts the node's metrics endpoint now, so that a port it cannot serve on stops the node at once
   * with a message naming the setting, not a device in the middle of a job. Its port was chosen free
   * before the system started ({@link NodeMetrics#withFreePort}); this catches one taken since.
   */
  private static ActorSystem<Command> withMetrics(ActorSystem<Command> system) {
    try {
      NodeMetrics.get(system);
      return system;
    } catch (RuntimeException e) {
      system.terminate();
      Throwable cause = e;
      while (cause.getCause() != null && !(cause instanceof java.io.UncheckedIOException)) {
        cause = cause.getCause();
      }
      throw new IllegalArgumentException(cause.getMessage(), e);
    }
  }

  /**
   * With {@code dsparse.tls.enabled}, Artery over mutual TLS on the node's certificates, checked here,
   * after every other setting and before the node binds or joins anything; and its cluster port free.
   */
  private static Config secured(Config config) {
    Config secured = ClusterTls.apply(config, Clock.systemUTC());
    String artery = "pekko.remote.artery.";
    String host = secured.getString(artery + "bind.hostname").isEmpty() ? secured.getString(artery + "canonical.hostname")
        : secured.getString(artery + "bind.hostname");
    int port = secured.getString(artery + "bind.port").isEmpty() ? secured.getInt(artery + "canonical.port")
        : secured.getInt(artery + "bind.port");
    Ports.checkFree("the cluster port (--port, pekko.remote.artery.canonical.port)", host, port);
    return secured;
  }

  /** Starts a node that coordinates jobs but trains nothing (the simulator's driver in process mode). */
  public static DsparseNode startCoordinator(Config config) {
    // Its collectives' settings are its devices' business, but a wrong one in the files it was given
    // is named now, not ignored.
    CollectiveSettings.fromConfig(config);
    Config secured = NodeMetrics.withFreePort(secured(config));
    ActorSystem<Command> system = ActorSystem.create(guardian(null, null, null, secured), NodeConfig.SYSTEM_NAME,
        secured);
    return new DsparseNode(withMetrics(system), null);
  }

  private static Behavior<Command> guardian(DeviceSettings device, CollectiveSettings collectives, Compute compute,
      Config config) {
    return Behaviors.setup(ctx -> {
      LayerShard.init(ctx.getSystem());
      if (device != null) {
        ctx.spawn(Device.create(device, collectives, compute), "device");
      }
      return Behaviors.receive(Command.class)
          .onMessage(SubmitJob.class, submit -> {
            ctx.spawn(JobCoordinator.create(submit.job().spec(), submit.job().devices(),
                submit.job().timeouts(), submit.job().elasticity(), config, submit.client()), "job-" + submit.job().spec().jobId());
            return Behaviors.same();
          })
          .build();
    });
  }

  public ActorSystem<Command> system() {
    return system;
  }

  /** The device's settings, or empty on a coordinator-only node. */
  public java.util.Optional<DeviceSettings> device() {
    return java.util.Optional.ofNullable(device);
  }

  /** This node's cluster address, {@code pekko://dsparse@host:port}. */
  public String address() {
    return Cluster.get(system).selfMember().address().toString();
  }

  /** Joins the cluster that {@code seedAddress} belongs to (or starts one when it is this node). */
  public void join(String seedAddress) {
    Cluster.get(system).manager().tell(org.apache.pekko.cluster.typed.Join.create(
        org.apache.pekko.actor.AddressFromURIString.parse(seedAddress)));
  }

  /** Waits until this node is an Up member of the cluster. */
  public void awaitUp(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Cluster cluster = Cluster.get(system);
    while (cluster.selfMember().status() != org.apache.pekko.cluster.MemberStatus.up()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("node " + (device == null ? "coordinator" : device.name()) + " at " + address()
            + " did not join the cluster within " + timeout + " (are the seed nodes reachable?)");
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while joining", e);
      }
    }
  }

  /** Submits a job coordinated by this node and returns its events' future end. */
  public CompletableFuture<JobEvent> submit(JobConfig job, java.util.function.Consumer<JobEvent> progress) {
    CompletableFuture<JobEvent> outcome = new CompletableFuture<>();
    ActorRef<JobEvent> client = system.systemActorOf(Behaviors.receive(JobEvent.class)
        .onAnyMessage(event -> {
          progress.accept(event);
          if (event instanceof JobEvent.Succeeded || event instanceof JobEvent.Failed) {
            outcome.complete(event);
            return Behaviors.stopped();
          }
          return Behaviors.same();
        }).build(), "client-" + job.spec().jobId(), org.apache.pekko.actor.typed.Props.empty());
    system.tell(new SubmitJob(job, client));
    return outcome;
  }

  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Shutting down anyway; a stuck system must not keep the caller.
    }
  }
}
